import { describe, expect, it } from 'vitest';
import { AgentJobsClient, ProblemError } from '../../../client/src/index.js';
import { fakeApi, job, problem, reply } from './fake-api.js';

/** Jitter pinned to half the ceiling: the backoff before retry n is 0.5 * base * 2^n. */
const client = (url: string, retry: Record<string, number> = {}) =>
  new AgentJobsClient({
    baseUrl: url,
    apiKey: 'ak_test',
    retry: { baseDelayMs: 40, random: () => 0.5, ...retry },
  });
const gaps = (seen: Array<{ at: number }>) => seen.slice(1).map((r, i) => r.at - seen[i]!.at);
const submit = { agent: 'echo', input: { message: 'hi' } };

describe('createJob retries', () => {
  it('retries 503, 429, 408 and 409 idempotency_key_in_use with one Idempotency-Key, backing off exponentially', async () => {
    const answers = [
      () => problem(503, 'service_unavailable'),
      () => problem(429, 'rate_limited'),
      () => problem(408, 'request_timeout'),
      () => problem(409, 'idempotency_key_in_use'),
    ];
    const api = await fakeApi((req, res, i) => {
      const p = answers[i]?.();
      if (p) return reply(res, p.status, p);
      reply(res, 202, job(), { 'retry-after': '1' });
    });

    const handle = await client(api.url).createJob(submit);

    expect(handle.job?.status).toBe('running');
    expect(api.seen).toHaveLength(5);
    const keys = api.seen.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^ik_[0-9a-f]{32}$/);
    expect(new Set(keys).size).toBe(1);
    expect(api.seen.every((r) => r.headers.authorization === 'Bearer ak_test')).toBe(true);
    expect(api.seen.every((r) => JSON.parse(r.body).agent === 'echo')).toBe(true);
    // Full jitter at 0.5: 20, 40, 80, 160 ms at least.
    gaps(api.seen).forEach((gap, n) => expect(gap).toBeGreaterThanOrEqual(20 * 2 ** n - 2));
  });

  it('a new logical call gets a new key; a key given by the caller is used as is', async () => {
    const api = await fakeApi((req, res) => reply(res, 202, job()));
    const c = client(api.url);
    await c.createJob(submit);
    await c.createJob(submit);
    await c.createJob(submit, { idempotencyKey: 'report-2026-11-22' });
    const keys = api.seen.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[2]).toBe('report-2026-11-22');
  });

  it('never retries sooner than Retry-After, even when the backoff is shorter', async () => {
    const api = await fakeApi((req, res, i) =>
      i === 0
        ? reply(res, 503, problem(503, 'service_unavailable'), { 'retry-after': '1' })
        : reply(res, 202, job()),
    );
    await client(api.url).createJob(submit);
    expect(api.seen).toHaveLength(2);
    expect(gaps(api.seen)[0]).toBeGreaterThanOrEqual(995);
  });

  it('retries a dropped connection', async () => {
    const api = await fakeApi((req, res, i) => {
      if (i === 0) res.socket?.destroy();
      else reply(res, 202, job());
    });
    await client(api.url).createJob(submit);
    expect(api.seen).toHaveLength(2);
    expect(api.seen[1]!.headers['idempotency-key']).toBe(api.seen[0]!.headers['idempotency-key']);
  });

  it('does not retry a problem marked retryable: false, and throws it as a ProblemError', async () => {
    const api = await fakeApi((req, res) =>
      reply(res, 503, problem(503, 'agent_unavailable', { retryable: false })),
    );
    const error = await client(api.url)
      .createJob(submit)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ name: 'ProblemError', status: 503, code: 'agent_unavailable' });
    expect(api.seen).toHaveLength(1);
  });

  it.each([
    [400, 'validation_failed'],
    [401, 'unauthorized'],
    [409, 'job_terminal'],
    [413, 'payload_too_large'],
    [422, 'unknown_agent'],
  ])('does not retry %i %s', async (status, code) => {
    const errors = status === 400 ? [{ path: 'body.input', message: 'Required' }] : undefined;
    const api = await fakeApi((req, res) => reply(res, status, problem(status, code, { errors })));
    const error = await client(api.url)
      .createJob(submit)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status, code, errors: errors ?? [] });
    expect(api.seen).toHaveLength(1);
  });

  it('gives up after maxRetries and throws the last problem', async () => {
    const api = await fakeApi((req, res) => reply(res, 500, problem(500, 'internal_error')));
    const error = await client(api.url, { maxRetries: 2, baseDelayMs: 1 })
      .createJob(submit)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 500, code: 'internal_error' });
    expect(api.seen).toHaveLength(3);
  });

  it('an answer that is not a problem still becomes a ProblemError', async () => {
    const api = await fakeApi((req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    const error = await client(api.url, { maxRetries: 1, baseDelayMs: 1 })
      .createJob(submit)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: 'unexpected_response', problem: undefined });
    expect(api.seen).toHaveLength(2);
  });

  it('abort stops the sleep between attempts at once', async () => {
    const api = await fakeApi((req, res) =>
      reply(res, 503, problem(503, 'service_unavailable'), { 'retry-after': '30' }),
    );
    const controller = new AbortController();
    const pending = client(api.url).createJob(submit, { signal: controller.signal });
    await expect.poll(() => api.seen.length).toBe(1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(api.seen).toHaveLength(1);
  }, 5_000);

  it('retries a quota_exceeded submit after Retry-After without holding back the other requests', async () => {
    const waiting = job();
    const api = await fakeApi((req, res, i) => {
      if (req.method === 'GET') return reply(res, 200, waiting);
      if (i === 0) return reply(res, 429, problem(429, 'quota_exceeded'), { 'retry-after': '1' });
      reply(res, 202, job());
    });
    const c = client(api.url);
    const submitted = c.createJob(submit);
    await expect.poll(() => api.seen.length).toBe(1);
    // The submit now sleeps until its Retry-After; a poll of another job goes out meanwhile.
    await new Promise((r) => setTimeout(r, 50));
    expect((await c.job(waiting.id).get()).id).toBe(waiting.id);
    expect(api.seen.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect((await submitted).job?.status).toBe('running');
    expect(api.seen.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
    expect(api.seen[2]!.at - api.seen[0]!.at).toBeGreaterThanOrEqual(1_000 - 2);
  }, 5_000);
});

describe('answer retries', () => {
  const id = job().id;

  it('retries a 429 (nothing was done) but not a 503 or a dropped connection (the answer may have landed)', async () => {
    const api = await fakeApi((req, res, i) => {
      if (i === 0) return reply(res, 429, problem(429, 'rate_limited'), { 'retry-after': '0' });
      if (i === 1) return reply(res, 200, job({ id }));
      if (i === 2) return reply(res, 503, problem(503, 'service_unavailable'));
      res.socket?.destroy();
    });
    const handle = client(api.url).job(id);
    expect((await handle.answer({ approved: true })).id).toBe(id);
    expect(api.seen.map((r) => [r.method, r.path, JSON.parse(r.body)])).toEqual([
      ['POST', `/v1/jobs/${id}/input`, { input: { approved: true } }],
      ['POST', `/v1/jobs/${id}/input`, { input: { approved: true } }],
    ]);
    await expect(handle.answer('again')).rejects.toMatchObject({ status: 503 });
    expect(api.seen).toHaveLength(3);
    await expect(handle.answer('once more')).rejects.toThrow();
    expect(api.seen).toHaveLength(4);
  });
});
