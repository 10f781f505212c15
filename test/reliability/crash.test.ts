import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, it } from 'vitest';
import { runConcurrently } from '../../bench/pool.js';
import { TERMINAL_STATUSES } from '../../lambdas/domain/job.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const JOBS = 100;
const API_KEY = `ak_crash_${Date.now().toString(36)}`;
const READY = /agent-jobs is running at (\S+)/;
const SFN = /Step Functions endpoint: (\S+) state machine: (\S+)/;

interface Job {
  id: string;
  status: string;
  result: { steps: number } | null;
  error: { code: string } | null;
  completedAt: string | null;
}

/** Mixed lengths: 1-6 steps of 0-400 ms, and every seventh job fails at its second step. */
function spec(i: number) {
  const steps = 1 + (i % 6);
  const input: Record<string, unknown> = { message: `crash ${i}`, steps, stepMs: [0, 50, 200, 400][i % 4] };
  if (i % 7 === 3 && steps >= 2) input.failAtStep = 2;
  return { key: `crash-${i}`, body: { agent: 'echo', input }, steps, fails: input.failAtStep !== undefined };
}
const specs = Array.from({ length: JOBS }, (_, i) => spec(i));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** `npm start` as its own process group (it spawns Java), on the given data directory. */
async function startLocal(dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lambdas/local/main.ts'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(await freePort()),
      AGENT_JOBS_DATA_DIR: dataDir,
      AGENT_JOBS_API_KEY: API_KEY,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = new Promise<{ url: string; sfnEndpoint: string; stateMachineArn: string }>(
    (resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const url = READY.exec(output)?.[1];
        const sfn = SFN.exec(output);
        if (url && sfn) resolve({ url, sfnEndpoint: sfn[1]!, stateMachineArn: sfn[2]! });
      });
      child.once('exit', (code) =>
        reject(new Error(`the local stack exited (${code}) before it was ready:\n${output}`)),
      );
    },
  );
  return { child, ...(await ready) };
}

/** Ends the whole group, Java included unless it was started detached (the next start then ends it). */
async function kill(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(-child.pid!, signal);
  await exited;
}

function client(url: string) {
  const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  return {
    submit: async (s: (typeof specs)[number]) => {
      const res = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': s.key },
        body: JSON.stringify(s.body),
      });
      return {
        status: res.status,
        replayed: res.headers.has('idempotent-replayed'),
        job: (await res.json()) as Job,
      };
    },
    get: async (id: string) => (await (await fetch(`${url}/v1/jobs/${id}`, { headers })).json()) as Job,
    listIds: async () => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page = (await (
          await fetch(`${url}/v1/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
            headers,
          })
        ).json()) as { items: Job[]; nextCursor: string | null };
        ids.push(...page.items.map((j) => j.id));
        cursor = page.nextCursor;
      } while (cursor);
      return ids;
    },
  };
}

const isTerminal = (job: Job) => (TERMINAL_STATUSES as readonly string[]).includes(job.status);

/** Did any execution run an agent step for this job (after the restart, when it had already succeeded)? */
async function agentStepsRun(sfn: SFNClient, stateMachineArn: string, jobId: string): Promise<number> {
  const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }));
  let steps = 0;
  for (const e of (executions ?? []).filter((x) => x.name === jobId)) {
    const { events } = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: e.executionArn, maxResults: 1000 }),
    );
    steps += (events ?? []).filter(
      (ev) => ev.type === 'TaskStateEntered' && ev.stateEnteredEventDetails?.name === 'AgentStep',
    ).length;
  }
  return steps;
}

describe('kill -9 of the whole local stack in the middle of a run', () => {
  let dataDir: string;
  const running: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of running) await kill(child, 'SIGTERM');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('loses no job, duplicates none, finishes every one, and runs none again after it succeeded', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-crash-'));
    const first = await startLocal(dataDir);
    running.push(first.child);
    const api1 = client(first.url);

    const submitted = await runConcurrently(JOBS, 16, (i) => api1.submit(specs[i]!));
    const ids = submitted.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      expect(r.value.status).toBe(202);
      return r.value.job.id;
    });

    // Crash once some jobs are done and others are still running.
    await expect
      .poll(async () => (await Promise.all(ids.map(api1.get))).filter(isTerminal).length, {
        timeout: 60_000,
        interval: 100,
      })
      .toBeGreaterThanOrEqual(JOBS / 4);
    const beforeCrash = await Promise.all(ids.map(api1.get));
    await kill(first.child, 'SIGKILL');
    expect(beforeCrash.filter(isTerminal).length).toBeLessThan(JOBS);
    const succeededBefore = beforeCrash.filter((j) => j.status === 'succeeded');
    expect(succeededBefore.length).toBeGreaterThan(0);

    const second = await startLocal(dataDir);
    running.push(second.child);
    const api2 = client(second.url);

    await expect
      .poll(async () => (await Promise.all(ids.map(api2.get))).filter(isTerminal).length, {
        timeout: 180_000,
        interval: 250,
      })
      .toBe(JOBS);

    // None lost, none duplicated: the listing holds exactly the submitted jobs, and a retry of each
    // submit after the restart hands back the same job.
    expect((await api2.listIds()).sort()).toEqual([...ids].sort());
    const retried = await runConcurrently(JOBS, 16, (i) => api2.submit(specs[i]!));
    retried.forEach((r, i) => {
      if (r.status === 'rejected') throw r.reason;
      expect(r.value).toMatchObject({ status: 202, replayed: true, job: { id: ids[i] } });
    });

    // Every job ends as its input says, with each step run once (a resumed job does not restart).
    const after = await Promise.all(ids.map(api2.get));
    after.forEach((job, i) => {
      const s = specs[i]!;
      if (s.fails) expect(job, s.key).toMatchObject({ status: 'failed', error: { code: 'agent_error' } });
      else expect(job, s.key).toMatchObject({ status: 'succeeded', result: { steps: s.steps } });
    });

    // A job that had succeeded before the crash is untouched and runs no agent step again.
    const sfn = new SFNClient({
      endpoint: second.sfnEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    for (const job of succeededBefore) {
      expect(after.find((j) => j.id === job.id)).toMatchObject({
        status: 'succeeded',
        completedAt: job.completedAt,
        result: job.result,
      });
      expect(await agentStepsRun(sfn, second.stateMachineArn, job.id), job.id).toBe(0);
    }
    sfn.destroy();
  });
});
