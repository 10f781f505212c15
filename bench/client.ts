import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { AgentJobsClient } from '../client/src/index.js';
import { TERMINAL_STATUSES } from '../lambdas/domain/job.js';
import { echoJob } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { round, timed } from './stats.js';

const CONCURRENCY = 16;
/** A 10 s job: ten echo steps of a second each. */
const TEN_SECOND_JOB = { agent: 'echo', input: { message: 'poll', steps: 10, stepMs: 1_000 } };
const isTerminal = (status: string) => (TERMINAL_STATUSES as readonly string[]).includes(status);

/** A client whose GETs of a job are counted, as the server would count them. */
function countingClient(ctx: BenchContext) {
  let polls = 0;
  const client = new AgentJobsClient({
    baseUrl: ctx.stack.url,
    apiKey: ctx.apiKey,
    fetch: (request) => {
      if (request.method === 'GET') polls++;
      return fetch(request);
    },
  });
  return { client, polls: () => polls };
}

/** The usual hand-written loop: submit, then GET every second until the job is terminal. */
async function fixedPoller(ctx: BenchContext, intervalMs: number): Promise<number> {
  const headers = { authorization: `Bearer ${ctx.apiKey}`, 'content-type': 'application/json' };
  const created = await fetch(`${ctx.stack.url}/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify(TEN_SECOND_JOB),
  });
  const { id } = (await created.json()) as { id: string };
  for (let polls = 1; ; polls++) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const job = (await (await fetch(`${ctx.stack.url}/v1/jobs/${id}`, { headers })).json()) as {
      status: string;
    };
    if (isTerminal(job.status)) return polls;
  }
}

/**
 * The raw API as a careful caller uses it: a keyed, held submit (`Idempotency-Key`, `Prefer: wait`),
 * then held GETs until the end.
 */
async function rawRun(ctx: BenchContext, body: unknown): Promise<void> {
  const headers = {
    authorization: `Bearer ${ctx.apiKey}`,
    'content-type': 'application/json',
    prefer: 'wait=20',
  };
  const created = await fetch(`${ctx.stack.url}/v1/jobs`, {
    method: 'POST',
    // Keyed like the client's submits, which makes the server read before it writes.
    headers: { ...headers, 'idempotency-key': randomUUID() },
    body: JSON.stringify(body),
  });
  let job = (await created.json()) as { id: string; status: string };
  while (!isTerminal(job.status)) {
    job = (await (await fetch(`${ctx.stack.url}/v1/jobs/${job.id}`, { headers })).json()) as typeof job;
  }
}

/**
 * The client's polling and fan-out. Poll requests per 10 s job: `wait()` (each poll held by the
 * server until the job ends, Retry-After between polls), `wait({onProgress})` (Retry-After pace,
 * If-None-Match), and a fixed 1 s poller, all three on jobs running side by side. Jobs per second:
 * runMany at concurrency 16 over short echo jobs, against the raw API at the same concurrency using
 * the same requests (held submit, held polls), alternating which goes first.
 */
export async function benchClient(ctx: BenchContext): Promise<Figures> {
  const jobs = ctx.quick ? 2 : 4;
  ctx.log(`counting poll requests of ${jobs} x 3 ten-second jobs (client wait, with progress, fixed 1 s)...`);
  const waiting = countingClient(ctx);
  const progress = countingClient(ctx);
  const fixed: number[] = [];
  await Promise.all(
    Array.from({ length: jobs }, () =>
      Promise.all([
        waiting.client.createJob(TEN_SECOND_JOB).then((job) => job.wait()),
        progress.client.createJob(TEN_SECOND_JOB).then((job) => job.wait({ onProgress: () => undefined })),
        fixedPoller(ctx, 1_000).then((polls) => fixed.push(polls)),
      ]),
    ),
  );
  const fixedPolls = fixed.reduce((s, n) => s + n, 0) / jobs;

  const batch = ctx.quick ? 48 : 160;
  const rounds = ctx.quick ? 2 : 4;
  ctx.log(`${rounds} rounds of ${batch} short jobs at concurrency ${CONCURRENCY}: raw API and runMany...`);
  const inputs = Array.from({ length: batch }, (_, i) => echoJob(`many-${i}`));
  let rawMs = 0;
  let clientMs = 0;
  const raw = async () => {
    const limit = pLimit(CONCURRENCY);
    rawMs += (await timed(() => Promise.all(inputs.map((input) => limit(() => rawRun(ctx, input)))))).ms;
  };
  const many = async () => {
    const client = new AgentJobsClient({ baseUrl: ctx.stack.url, apiKey: ctx.apiKey });
    const { ms, value } = await timed(() => client.runMany(inputs, { concurrency: CONCURRENCY }));
    if (value.some((r) => !r.ok || r.job.status !== 'succeeded'))
      throw new Error('a runMany job did not succeed');
    clientMs += ms;
  };
  // Alternating which goes first, so neither always runs behind the other's leftover work.
  for (let round = 0; round < rounds; round++) {
    for (const run of round % 2 === 0 ? [raw, many] : [many, raw]) await run();
  }
  const rawRate = (batch * rounds) / (rawMs / 1000);
  const clientRate = (batch * rounds) / (clientMs / 1000);

  return {
    'client.pollRequestsPerJob': round(waiting.polls() / jobs),
    'client.pollRequestsPerJob.withProgress': round(progress.polls() / jobs),
    'client.pollRequestsPerJob.fixed1s': round(fixedPolls),
    'client.pollRequestsRatio': round(fixedPolls / (waiting.polls() / jobs)),
    'client.runMany.jobsPerSec': round(clientRate),
    'client.runMany.rawJobsPerSec': round(rawRate),
    'client.runMany.ratio': round(clientRate / rawRate),
    'client.runMany.concurrency': CONCURRENCY,
  };
}
