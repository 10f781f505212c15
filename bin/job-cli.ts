import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  AgentJobsClient,
  isTerminal,
  isTerminalEvent,
  type Job,
  type JobEvent,
  type JobStatus,
  ProblemError,
  WaitTimeoutError,
} from '../client/src/index.js';
import { UsageError } from './cli-args.js';

/**
 * `agent-jobs run | jobs ...`: the job API from the shell, on the same client an application uses.
 * Human output (with a progress bar) on a terminal; JSON, one value per line, with --json or when
 * stdout is not a terminal.
 */
export const JOB_USAGE = `usage: agent-jobs run AGENT --input JSON|@file [--idempotency-key K] [--wait] [--timeout S] [--json]
       agent-jobs jobs get ID | cancel ID | answer ID --input JSON|@file   [--json]
       agent-jobs jobs list [--status S] [--limit N] [--json]
       agent-jobs jobs watch ID [--after SEQ] [--json]
  AGENT_JOBS_URL (default http://127.0.0.1:3000), AGENT_JOBS_API_KEY
  exit: 0 succeeded, 1 failed or cancelled (or an error), 2 usage, 3 --timeout passed (the job goes on), 130 Ctrl-C`;

export const EXIT = { succeeded: 0, failed: 1, usage: 2, timedOut: 3, interrupted: 130 } as const;

const OPTIONS = {
  input: { type: 'string' },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
} satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parse>['values'];

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

interface Context {
  client: AgentJobsClient;
  flags: Flags;
  /** JSON output: asked for, or stdout is not a terminal. */
  json: boolean;
  /** Progress on stderr, only when it is a terminal. */
  tty: boolean;
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

async function inputFrom(flag: string | undefined): Promise<unknown> {
  if (flag === undefined) throw new UsageError('--input JSON|@file is required');
  const text = flag.startsWith('@') ? await readFile(flag.slice(1), 'utf8') : flag;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`--input is not JSON: ${text.slice(0, 80)}`);
  }
}

function positiveNumber(flag: string | undefined, name: string): number | undefined {
  if (flag === undefined) return undefined;
  const n = Number(flag);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of seconds or more`);
  return n;
}

const exitFor = (job: Job) => (job.status === 'succeeded' ? EXIT.succeeded : EXIT.failed);

function describeJob(job: Job): string {
  const lines = [`${job.id}  ${job.status}  ${job.agent}  attempt ${job.attempt}`];
  if (!isTerminal(job)) lines.push(`  progress ${progressText(job)}`);
  if (job.inputRequest) lines.push(`  waiting for input: ${job.inputRequest.prompt}`);
  if (job.error) lines.push(`  error ${job.error.code}: ${job.error.message}`);
  if (job.status === 'succeeded') lines.push(`  result ${JSON.stringify(job.result)}`);
  return lines.join('\n');
}

/** `40% step 2 of 5`: the agent's own message when it gave one, else the step number. */
const progressLine = (p: { fraction: number; step: number; message?: string | null }) =>
  `${Math.round(p.fraction * 100)}% ${p.message ?? `step ${p.step}`}`;
const progressText = (job: Job) => progressLine(job.progress);

/** A one-line bar redrawn in place on stderr; a spinner while the job has not started. */
function progressBar() {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  return {
    draw(job: Job) {
      const width = 24;
      const filled = Math.round(job.progress.fraction * width);
      const bar =
        job.status === 'pending'
          ? frames[frame++ % frames.length]!
          : `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
      process.stderr.write(`\r\x1b[K${bar} ${job.status} ${progressText(job)}`);
    },
    clear: () => process.stderr.write('\r\x1b[K'),
  };
}

/** An AbortSignal that Ctrl-C aborts (instead of killing the process), for as long as it is in use. */
function interruptSignal() {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onInterrupt) };
}

const resumeHint = (id: string, after?: number) =>
  `npx agent-jobs jobs watch ${id}${after ? ` --after ${after}` : ''}`;

async function runCommand(ctx: Context, positionals: string[]): Promise<number> {
  const [agent] = positionals;
  if (!agent) throw new UsageError('run needs an AGENT');
  const input = await inputFrom(ctx.flags.input);
  const timeout = positiveNumber(ctx.flags.timeout, 'timeout');
  const handle = await ctx.client.createJob(
    { agent, input },
    { ...(ctx.flags['idempotency-key'] ? { idempotencyKey: ctx.flags['idempotency-key'] } : {}) },
  );
  if (!ctx.flags.wait) {
    if (ctx.json) out(JSON.stringify(handle.job));
    else out(`${describeJob(handle.job!)}\n  follow: ${resumeHint(handle.id)}`);
    return EXIT.succeeded;
  }
  const interrupt = interruptSignal();
  const bar = ctx.tty ? progressBar() : undefined;
  try {
    const job = await handle.wait({
      signal: interrupt.signal,
      ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }),
      ...(bar ? { onProgress: (j: Job) => bar.draw(j) } : {}),
    });
    bar?.clear();
    out(ctx.json ? JSON.stringify(job) : describeJob(job));
    return exitFor(job);
  } catch (e) {
    bar?.clear();
    if (e instanceof WaitTimeoutError) {
      if (ctx.json) out(JSON.stringify(e.job ?? handle.job));
      err(
        `${handle.id} is still ${e.job?.status ?? 'running'} after ${timeout} s; it goes on. Follow it: ${resumeHint(handle.id)}`,
      );
      return EXIT.timedOut;
    }
    if (interrupt.signal.aborted) {
      err(`Stopped waiting; ${handle.id} goes on. Follow it: ${resumeHint(handle.id)}`);
      return EXIT.interrupted;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}

function describeEvent(event: JobEvent): string {
  const data = event.data as Record<string, unknown> | null;
  const detail =
    event.type === 'job.progress'
      ? progressLine(data as { fraction: number; step: number; message?: string | null })
      : isTerminalEvent(event)
        ? JSON.stringify((data as Job).error ?? (data as Job).result ?? null)
        : '';
  return `#${event.seq} ${event.at} ${event.type} ${detail}`.trimEnd();
}

async function watchCommand(ctx: Context, id: string): Promise<number> {
  const interrupt = interruptSignal();
  let last = positiveNumber(ctx.flags.after, 'after') ?? 0;
  try {
    for await (const event of ctx.client.job(id).events({ after: last, signal: interrupt.signal })) {
      last = event.seq;
      out(ctx.json ? JSON.stringify(event) : describeEvent(event));
      if (isTerminalEvent(event)) return event.type === 'job.succeeded' ? EXIT.succeeded : EXIT.failed;
    }
    // The stream had nothing more: the job had already ended before `--after`.
    return exitFor(await ctx.client.getJob(id));
  } catch (e) {
    if (!interrupt.signal.aborted) throw e;
    err(`Stopped watching; ${id} goes on. Resume: ${resumeHint(id, last)}`);
    return EXIT.interrupted;
  } finally {
    interrupt.dispose();
  }
}

async function listCommand(ctx: Context): Promise<number> {
  const limit = positiveNumber(ctx.flags.limit, 'limit') ?? 20;
  let shown = 0;
  for await (const job of ctx.client.listJobs({
    ...(ctx.flags.status ? { status: ctx.flags.status as JobStatus } : {}),
    pageSize: Math.min(100, Math.max(1, limit)),
  })) {
    if (shown++ >= limit) break;
    out(
      ctx.json ? JSON.stringify(job) : `${job.id}  ${job.status.padEnd(14)}  ${job.agent}  ${job.createdAt}`,
    );
  }
  return EXIT.succeeded;
}

async function jobsCommand(ctx: Context, [action, id]: string[]): Promise<number> {
  if (action === 'list') return listCommand(ctx);
  if (!id) throw new UsageError(`jobs ${action ?? ''} needs a job ID`);
  const handle = ctx.client.job(id);
  const show = (job: Job) => out(ctx.json ? JSON.stringify(job) : describeJob(job));
  switch (action) {
    case 'get':
      show(await handle.get());
      return EXIT.succeeded;
    case 'cancel':
      show(await handle.cancel());
      return EXIT.succeeded;
    case 'answer':
      show(await handle.answer(await inputFrom(ctx.flags.input)));
      return EXIT.succeeded;
    case 'watch':
      return watchCommand(ctx, id);
    default:
      throw new UsageError(JOB_USAGE);
  }
}

/** Entry point of `run` and `jobs`; `command` is which of the two. */
export async function jobMain(
  command: 'run' | 'jobs',
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  try {
    const { values: flags, positionals } = parse(args);
    const ctx: Context = {
      client: new AgentJobsClient({
        baseUrl: env.AGENT_JOBS_URL || 'http://127.0.0.1:3000',
        ...(env.AGENT_JOBS_API_KEY ? { apiKey: env.AGENT_JOBS_API_KEY } : {}),
      }),
      flags,
      json: flags.json === true || !process.stdout.isTTY,
      tty: process.stderr.isTTY === true,
    };
    return await (command === 'run' ? runCommand(ctx, positionals) : jobsCommand(ctx, positionals));
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message === JOB_USAGE ? JOB_USAGE : `${e.message}\n${JOB_USAGE}`);
      return EXIT.usage;
    }
    const problem = e instanceof ProblemError ? ` ${JSON.stringify(e.problem ?? {})}` : '';
    err(`agent-jobs: ${(e as Error).message}${problem}`);
    return EXIT.failed;
  }
}
