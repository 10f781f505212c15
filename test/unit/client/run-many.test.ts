import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AgentJobsClient, ProblemError } from '../../../client/src/index.js';
import { parseRateLimit } from '../../../client/src/rate-limit.js';
import { fakeApi, job, problem, reply } from './fake-api.js';

const client = (url: string) =>
  new AgentJobsClient({ baseUrl: url, retry: { baseDelayMs: 10, maxRetries: 1 } });

describe('runMany', () => {
  it('never has more jobs in flight than the limit, and answers in input order with failures per item', async () => {
    let running = 0;
    let maxRunning = 0;
    const api = await fakeApi(async (req, res) => {
      const { input } = JSON.parse(req.body) as { input: { n: number } };
      running++;
      maxRunning = Math.max(maxRunning, running);
      // Later inputs finish first, so completion order differs from input order.
      await sleep(5 + (12 - input.n) * 3);
      running--;
      if (input.n === 4) return reply(res, 422, problem(422, 'unknown_agent'));
      reply(res, 200, job({ status: input.n === 7 ? 'failed' : 'succeeded', input }));
    });
    const inputs = Array.from({ length: 12 }, (_, n) => ({ agent: 'echo', input: { n } }));

    const results = await client(api.url).runMany(inputs, { concurrency: 3 });

    expect(maxRunning).toBe(3);
    expect(api.maxInFlight()).toBeLessThanOrEqual(3);
    expect(results).toHaveLength(12);
    results.forEach((result, n) => {
      if (n === 4) {
        expect(result.ok).toBe(false);
        expect(!result.ok && result.error).toBeInstanceOf(ProblemError);
      } else {
        expect(result).toMatchObject({
          ok: true,
          job: { input: { n }, status: n === 7 ? 'failed' : 'succeeded' },
        });
      }
    });
    // Each submit asks the server to hold it, so a quick job comes back finished: no poll needed.
    expect(api.seen.every((r) => r.method === 'POST' && r.headers.prefer === 'wait=20')).toBe(true);
  });

  it('reports a job that outlives its timeout with its id, so it can be resumed', async () => {
    const running = job();
    const api = await fakeApi((req, res) =>
      reply(res, req.method === 'POST' ? 202 : 200, running, { 'retry-after': '1' }),
    );
    const [result] = await client(api.url).runMany([{ agent: 'echo', input: {} }], { timeoutMs: 300 });
    expect(result).toMatchObject({ ok: false, jobId: running.id, error: { name: 'WaitTimeoutError' } });
  });

  it('slows down when the RateLimit header says the budget is nearly spent', async () => {
    const api = await fakeApi((req, res, i) =>
      // The first answer: one request left in a window that resets in a second.
      reply(res, 200, job({ status: 'succeeded' }), {
        ratelimit: i === 0 ? '"requests";r=0;t=1' : '"requests";r=50;t=60',
        'ratelimit-policy': '"requests";q=60;w=60',
      }),
    );
    const inputs = Array.from({ length: 3 }, () => ({ agent: 'echo', input: {} }));
    await client(api.url).runMany(inputs, { concurrency: 1 });
    expect(api.seen).toHaveLength(3);
    expect(api.seen[1]!.at - api.seen[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('after a 429, every worker waits for its Retry-After, not just the one that got it', async () => {
    const api = await fakeApi(async (req, res, i) => {
      if (i === 0) return reply(res, 429, problem(429, 'rate_limited'), { 'retry-after': '1' });
      reply(res, 200, job({ status: 'succeeded' }));
    });
    const inputs = Array.from({ length: 4 }, () => ({ agent: 'echo', input: {} }));
    const first = client(api.url);
    await first.runMany(inputs.slice(0, 1), { concurrency: 2 });
    const rateLimitedAt = api.seen[0]!.at;
    expect(api.seen.slice(1).every((r) => r.at - rateLimitedAt >= 990)).toBe(true);
  });
});

describe('parseRateLimit', () => {
  it.each([
    ['"requests";r=12;t=40', { remaining: 12, resetSeconds: 40 }],
    ['"requests";r=50;t=60, "burst";r=2;t=1', { remaining: 2, resetSeconds: 1 }],
    ['"requests";t=5', undefined],
    ['garbage', undefined],
    [null, undefined],
  ])('%s', (header, expected) => {
    expect(parseRateLimit(header)).toEqual(expected);
  });
});

describe('listJobs', () => {
  it('walks every page with the cursor, lazily, with the status filter', async () => {
    const pages = [
      { items: [job(), job()], nextCursor: 'c1' },
      { items: [job()], nextCursor: null },
    ];
    const api = await fakeApi((req, res, i) => reply(res, 200, pages[i]));
    const ids = [];
    for await (const j of client(api.url).listJobs({ status: 'succeeded', pageSize: 2 })) ids.push(j.id);
    expect(ids).toEqual(pages.flatMap((p) => p.items.map((j) => j.id)));
    expect(api.seen.map((r) => r.path)).toEqual([
      '/v1/jobs?status=succeeded&limit=2',
      '/v1/jobs?status=succeeded&limit=2&cursor=c1',
    ]);
  });
});
