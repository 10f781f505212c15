import { Writable } from 'node:stream';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { Job } from '../../../lambdas/domain/job.js';
import type { JobEvent } from '../../../lambdas/domain/job-events.js';
import '../../../lambdas/local/awslambda.js';
import '../support/handler-env.js';
import { apiEvent, JOB_ID, lambdaContext, makeJob, OTHER_TENANT, TENANT } from '../support/fixtures.js';

vi.mock('node:timers/promises', async (importOriginal) =>
  (await import('../support/timers-promises.js')).fakeable(await importOriginal()),
);
vi.stubEnv('STREAM_MAX_SECONDS', '60');
const { handler } = await import('../../../lambdas/handlers/follow-events.js');
const ddb = mockClient(DynamoDBDocumentClient);

/** What API Gateway would send the client: status and headers first, then the body as written. */
class FakeResponse extends Writable {
  status?: number;
  headers?: Record<string, string>;
  private readonly chunks: string[] = [];

  writePrelude(metadata: { statusCode?: number; headers?: Record<string, string> }) {
    this.status = metadata.statusCode;
    this.headers = metadata.headers;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.chunks.push(String(chunk));
    done();
  }

  get text() {
    return this.chunks.join('');
  }

  /** The ids of the SSE messages written so far. */
  get ids() {
    return [...this.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }
}

const event = (seq: number, type: JobEvent['type']): JobEvent => ({
  seq,
  type,
  at: '2025-01-01T00:00:00.000Z',
  data: { seq },
});

function storedJob(job: Job) {
  ddb.on(GetCommand).resolves({ Item: { ...job, PK: jobPk(TENANT, JOB_ID), SK: 'JOB', ttl: 1 } });
}

function stream(
  opts: {
    headers?: Record<string, string>;
    query?: Record<string, string>;
    tenant?: string;
    /** The tenant's limits as the authorizer passes them; none: not limited. */
    limits?: { requestsPerMinute: number; maxStreams: number };
  } = {},
) {
  const res = new FakeResponse();
  const ev = apiEvent({
    path: `/v1/jobs/${JOB_ID}/stream`,
    pathParameters: { id: JOB_ID },
    headers: opts.headers ?? {},
    query: opts.query ?? null,
    tenant: opts.tenant ?? TENANT,
  });
  ev.requestContext.authorizer = { ...ev.requestContext.authorizer, ...opts.limits };
  const done = handler(ev, res as never, { ...lambdaContext, getRemainingTimeInMillis: () => 900_000 });
  return { res, done };
}

const queryFrom = () => ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExpressionAttributeValues?.[':from'];

beforeEach(() => {
  ddb.reset();
  vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00.000Z') });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('GET /v1/jobs/{id}/stream', () => {
  it('streams from seq 1 as SSE with no-cache and no proxy buffering, and ends after the terminal event', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 2 }));
    ddb.on(QueryCommand).resolves({ Items: [event(1, 'job.created'), event(2, 'job.succeeded')] });
    const { res, done } = stream();
    await done;
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    expect(res.text.startsWith('retry: 1000\n\n')).toBe(true);
    expect(res.text).toContain(
      `id: 2\nevent: job.succeeded\ndata: ${JSON.stringify(event(2, 'job.succeeded'))}\n\n`,
    );
    expect(res.ids).toEqual([1, 2]);
    expect(queryFrom()).toBe('E#0000000001');
    expect(res.writableEnded).toBe(true);
  });

  it('resumes after ?after=', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 5 }));
    ddb.on(QueryCommand).resolves({ Items: [event(4, 'job.progress'), event(5, 'job.cancelled')] });
    const { res, done } = stream({ query: { after: '3' } });
    await done;
    expect(queryFrom()).toBe('E#0000000004');
    expect(res.ids).toEqual([4, 5]);
  });

  it('lets Last-Event-ID win over ?after=', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 9 }));
    ddb.on(QueryCommand).resolves({ Items: [event(8, 'job.progress'), event(9, 'job.failed')] });
    const { done } = stream({ headers: { 'Last-Event-ID': '7' }, query: { after: '2' } });
    await done;
    expect(queryFrom()).toBe('E#0000000008');
  });

  it('answers 204 to a client that already has the terminal event, so an EventSource stops reconnecting', async () => {
    storedJob(makeJob({ status: 'succeeded', eventSeq: 6 }));
    const { res, done } = stream({ headers: { 'last-event-id': '6' } });
    await done;
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it('answers 404 problem+json, before any event, for an unknown or foreign job', async () => {
    ddb.on(GetCommand).resolves({});
    const { res, done } = stream({ tenant: OTHER_TENANT });
    await done;
    expect(res.status).toBe(404);
    expect(res.headers?.['Content-Type']).toBe('application/problem+json');
    expect(JSON.parse(res.text)).toMatchObject({ status: 404, code: 'not_found' });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it.each([
    ['Last-Event-ID', { headers: { 'Last-Event-ID': 'abc' } }],
    ['after', { query: { after: '-1' } }],
  ])('answers 400 for a malformed %s', async (_what, opts) => {
    const { res, done } = stream(opts);
    await done;
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'validation_failed' });
  });

  it('backs off while idle, 100 ms doubling to 2 s, and reads quickly again once events flow', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 1 }));
    let appended: JobEvent[] = [];
    ddb.on(QueryCommand).callsFake(() => {
      const items = appended;
      appended = [];
      return { Items: items };
    });
    const { res, done } = stream({ query: { after: '1' } });
    const readsAfter = async (ms: number) => {
      const before = ddb.commandCalls(QueryCommand).length;
      await vi.advanceTimersByTimeAsync(ms);
      return ddb.commandCalls(QueryCommand).length - before;
    };
    // Reads at 0, 0.1, 0.3, 0.7, 1.5, 3.1 s, then every 2 s.
    expect(await readsAfter(3_100)).toBe(6);
    expect(await readsAfter(10_000)).toBe(5);
    appended = [event(2, 'job.progress')];
    await readsAfter(2_000);
    expect(res.ids).toEqual([2]);
    expect(await readsAfter(100)).toBe(1);
    res.destroy();
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
  });

  it('sends a comment keep-alive every 15 s while nothing happens', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 1 }));
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { res, done } = stream({ query: { after: '1' } });
    await vi.advanceTimersByTimeAsync(14_900);
    expect(res.text).not.toContain(': keep-alive');
    await vi.advanceTimersByTimeAsync(200);
    expect(res.text.match(/^: keep-alive$/gm)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(res.text.match(/^: keep-alive$/gm)).toHaveLength(2);
    res.destroy();
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
  });

  it('ends cleanly at the maximum stream duration, so the client reconnects with Last-Event-ID', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 1 }));
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { res, done } = stream();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(res.writableEnded).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    expect(res.writableEnded).toBe(true);
  });

  it('stops reading as soon as the client goes away', async () => {
    storedJob(makeJob({ status: 'running', eventSeq: 1 }));
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { res, done } = stream();
    await vi.advanceTimersByTimeAsync(1_000);
    res.destroy();
    await vi.advanceTimersByTimeAsync(0);
    await done;
    const reads = ddb.commandCalls(QueryCommand).length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(reads);
  });

  describe('limits', () => {
    const limits = { requestsPerMinute: 2, maxStreams: 1 };
    const RATE_KEY = { PK: `RATE#${TENANT}`, SK: 'REQUESTS' };
    const LEASES_KEY = { PK: `STREAMS#${TENANT}`, SK: 'STREAMS' };
    const now = () => Date.parse('2025-01-01T00:00:00.000Z');
    const leaseWrites = () =>
      ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.Key?.PK === LEASES_KEY.PK);

    beforeEach(() => {
      // An untouched bucket: the limiter's first write admits and sets the TAT one interval ahead.
      ddb.on(UpdateCommand, { Key: RATE_KEY }).resolves({ Attributes: { tat: now() + 30_000 } });
      ddb.on(UpdateCommand, { Key: LEASES_KEY }).resolves({});
    });

    it('counts the stream against the request rate and sends the RateLimit fields with the events', async () => {
      storedJob(makeJob({ status: 'running', eventSeq: 2 }));
      ddb.on(QueryCommand).resolves({ Items: [event(1, 'job.created'), event(2, 'job.succeeded')] });
      const { res, done } = stream({ limits });
      await done;
      expect(res.status).toBe(200);
      expect(res.headers).toMatchObject({
        'Content-Type': 'text/event-stream',
        'RateLimit-Policy': '"requests";q=2;w=60',
        RateLimit: '"requests";r=1;t=30',
      });
      expect(res.ids).toEqual([1, 2]);
    });

    it('answers 429 rate_limited with Retry-After and the fields over the request rate, reading nothing', async () => {
      ddb.on(UpdateCommand, { Key: RATE_KEY }).rejects(
        Object.assign(new ConditionalCheckFailedException({ message: 'refused', $metadata: {} }), {
          Item: { tat: { N: String(now() + 60_000) } },
        }),
      );
      const { res, done } = stream({ limits });
      await done;
      expect(res.status).toBe(429);
      expect(res.headers).toMatchObject({
        'Content-Type': 'application/problem+json',
        'Retry-After': '30',
        'RateLimit-Policy': '"requests";q=2;w=60',
        RateLimit: '"requests";r=0;t=60',
      });
      expect(JSON.parse(res.text)).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
      expect(leaseWrites()).toHaveLength(0);
    });

    it('holds a stream lease while streaming and gives it back when the stream ends', async () => {
      storedJob(makeJob({ status: 'running', eventSeq: 2 }));
      ddb.on(QueryCommand).resolves({ Items: [event(1, 'job.created'), event(2, 'job.succeeded')] });
      const { done } = stream({ limits });
      await done;
      const [take, give] = leaseWrites().map((c) => c.args[0].input);
      const streamId = take?.ExpressionAttributeNames?.['#id'];
      expect(streamId).toEqual(expect.any(String));
      // The lease lasts as long as the function may run (900 s here) and a minute more.
      expect(take?.ExpressionAttributeValues?.[':until']).toBe(now() + 960_000);
      expect(give).toMatchObject({ UpdateExpression: 'REMOVE #leases.#id' });
      expect(give?.ExpressionAttributeNames?.['#id']).toBe(streamId);
    });

    it('gives the lease back when the client goes away', async () => {
      storedJob(makeJob({ status: 'running', eventSeq: 1 }));
      ddb.on(QueryCommand).resolves({ Items: [] });
      const { res, done } = stream({ limits, query: { after: '1' } });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(leaseWrites()).toHaveLength(1);
      res.destroy();
      await vi.advanceTimersByTimeAsync(0);
      await done;
      expect(leaseWrites()[1]?.args[0].input.UpdateExpression).toBe('REMOVE #leases.#id');
    });

    it('answers 429 rate_limited with Retry-After before any event when the tenant has maxStreams open', async () => {
      storedJob(makeJob({ status: 'running', eventSeq: 2 }));
      ddb.on(UpdateCommand, { Key: LEASES_KEY }).rejects(
        Object.assign(new ConditionalCheckFailedException({ message: 'refused', $metadata: {} }), {
          Item: { leases: { M: { other: { N: String(now() + 600_000) } } } },
        }),
      );
      const { res, done } = stream({ limits });
      await done;
      expect(res.status).toBe(429);
      expect(res.headers).toMatchObject({ 'Retry-After': '10', 'RateLimit-Policy': '"requests";q=2;w=60' });
      expect(JSON.parse(res.text)).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(res.text).not.toContain('retry:');
      expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    });

    it('takes no lease for a job that is already over for this client (204)', async () => {
      storedJob(makeJob({ status: 'succeeded', eventSeq: 6 }));
      const { res, done } = stream({ limits, headers: { 'last-event-id': '6' } });
      await done;
      expect(res.status).toBe(204);
      expect(res.headers).toMatchObject({ RateLimit: '"requests";r=1;t=30' });
      expect(leaseWrites()).toHaveLength(0);
    });
  });
});
