import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, inject, it } from 'vitest';
import { runConcurrently } from '../../bench/pool.js';
import { TERMINAL_STATUSES } from '../../lambdas/domain/job.js';
import { apiFor } from '../integration/client.js';

const api = apiFor('load');
const SUBMITS = 2_000;
const CONCURRENCY = 64;
/** Every tenth submit repeats one of the nine before it, often while the first is still in flight. */
const RETRY_EVERY = 10;
const UNIQUE = SUBMITS - SUBMITS / RETRY_EVERY;
/** Bound for all jobs to finish: two-core CI machines run roughly 20-40 one-step jobs a second. */
const ALL_TERMINAL_WITHIN_MS = 300_000;

const run = Date.now().toString(36);
const keyOf = (i: number) => {
  const block = Math.floor(i / RETRY_EVERY);
  const slot = i % RETRY_EVERY;
  const unique =
    slot === RETRY_EVERY - 1
      ? block * (RETRY_EVERY - 1) + (block % (RETRY_EVERY - 1))
      : block * (RETRY_EVERY - 1) + slot;
  return `load-${run}-${unique}`;
};
const bodyOf = (key: string) => ({ agent: 'echo', input: { message: key, steps: 1, stepMs: 0 } });

async function statusCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor: string | null = null;
  do {
    const page = await api.list(`?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const job of page.body.items as Array<{ status: string }>)
      counts[job.status] = (counts[job.status] ?? 0) + 1;
    cursor = page.body.nextCursor;
  } while (cursor);
  return counts;
}

async function executionNames(): Promise<string[]> {
  const sfn = new SFNClient({
    endpoint: inject('sfnEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: inject('stateMachineArn'), maxResults: 1000, nextToken }),
    );
    names.push(...(page.executions ?? []).map((e) => e.name!));
    nextToken = page.nextToken;
  } while (nextToken);
  sfn.destroy();
  return names;
}

describe(`${SUBMITS} submits at concurrency ${CONCURRENCY} with ${100 / RETRY_EVERY}% idempotent retries`, () => {
  it('makes exactly one job and one execution per key, never a 5xx, and finishes every job', async () => {
    const results = await runConcurrently(SUBMITS, CONCURRENCY, async (i) => {
      const key = keyOf(i);
      const res = await api.create(bodyOf(key), { 'idempotency-key': key });
      return {
        key,
        status: res.status,
        id: res.body?.id as string,
        replayed: res.headers.has('idempotent-replayed'),
      };
    });
    const answers = results.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });

    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    const idByKey = new Map<string, Set<string>>();
    for (const a of answers) idByKey.set(a.key, (idByKey.get(a.key) ?? new Set()).add(a.id));
    expect(idByKey.size).toBe(UNIQUE);
    expect([...idByKey.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(answers.filter((a) => a.replayed)).toHaveLength(SUBMITS - UNIQUE);

    await expect
      .poll(
        async () => {
          const counts = await statusCounts();
          return TERMINAL_STATUSES.reduce((n, s) => n + (counts[s] ?? 0), 0);
        },
        { timeout: ALL_TERMINAL_WITHIN_MS, interval: 2_000 },
      )
      .toBe(UNIQUE);
    expect(await statusCounts()).toEqual({ succeeded: UNIQUE });

    const ids = new Set([...idByKey.values()].flatMap((s) => [...s]));
    const executions = (await executionNames()).filter((name) => ids.has(name));
    expect(executions).toHaveLength(UNIQUE);
    expect(new Set(executions).size).toBe(UNIQUE);
  });
});
