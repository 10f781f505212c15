import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  expectFieldErrors,
  expectProblem,
  headerOf,
  JOB_ID,
  lambdaContext,
  storedJob,
  TABLE_NAME,
  TENANT,
} from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/get-job.js');
const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-06-01T10:00:00.000Z');

const get = (id: string, tenant: string = TENANT) =>
  handler(apiEvent({ path: `/v1/jobs/${id}`, pathParameters: { id }, tenant }), lambdaContext);

const stored = (overrides: Parameters<typeof storedJob>[0]) =>
  storedJob(overrides, { GSI1PK: `T#${TENANT}`, GSI1SK: 'x', completedSteps: 1 });

beforeEach(() => {
  ddb.reset();
  // No queue entry: a pending job has been admitted and shows no queue position.
  ddb.on(QueryCommand).resolves({ Items: [] });
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('GET /v1/jobs/{id}', () => {
  it('200 with the public job and Retry-After while running', async () => {
    ddb.on(GetCommand).resolves({
      Item: stored({
        status: 'running',
        startedAt: new Date(NOW.getTime() - 100_000).toISOString(),
        progress: { fraction: 0.1, step: 1, message: 'step 1 of 10' },
      }),
    });

    const res = await get(JOB_ID);

    expect(res.statusCode).toBe(200);
    expect(headerOf(res, 'content-type')).toBe('application/json');
    expect(headerOf(res, 'retry-after')).toBe('10');
    const body = bodyOf(res);
    expect(body).toMatchObject({
      id: JOB_ID,
      status: 'running',
      progress: { fraction: 0.1, step: 1, message: 'step 1 of 10' },
    });
    for (const internal of [
      'PK',
      'SK',
      'GSI1PK',
      'GSI1SK',
      'ttl',
      'fingerprint',
      'completedSteps',
      'tenant',
      'executionName',
      'webhook',
      'timeoutSeconds',
    ]) {
      expect(body).not.toHaveProperty(internal);
    }
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE_NAME,
      Key: { PK: `T#${TENANT}#J#${JOB_ID}`, SK: 'JOB' },
      ConsistentRead: true,
    });
  });

  it.each(['pending', 'input_required'] as const)('sends Retry-After for a %s job', async (status) => {
    ddb.on(GetCommand).resolves({ Item: stored({ status }) });
    const res = await get(JOB_ID);
    expect(res.statusCode).toBe(200);
    const value = Number(headerOf(res, 'retry-after'));
    expect(Number.isInteger(value) && value >= 1 && value <= 30).toBe(true);
  });

  it.each([
    ['succeeded', { result: { message: 'hi', steps: 3, input: null } }],
    ['failed', { error: { code: 'agent_error', message: 'boom', retryable: false } }],
    ['cancelled', {}],
  ] as const)('no Retry-After once %s', async (status, extra) => {
    ddb.on(GetCommand).resolves({ Item: stored({ status, completedAt: NOW.toISOString(), ...extra }) });
    const res = await get(JOB_ID);
    expect(res.statusCode).toBe(200);
    expect(headerOf(res, 'retry-after')).toBeUndefined();
    expect(bodyOf(res)).toMatchObject({ status, ...extra });
  });

  it('404 for an unknown job', async () => {
    ddb.on(GetCommand).resolves({});
    expectProblem(await get(JOB_ID), 404, 'not_found');
  });

  it("a pending job waiting for a slot shows its place in its tenant's queue", async () => {
    ddb.on(GetCommand).resolves({ Item: stored({ status: 'pending' }) });
    ddb.on(QueryCommand).resolves({ Items: [{ SK: 'job_00000000000000000000000001' }, { SK: JOB_ID }] });
    const res = await get(JOB_ID);
    expect(bodyOf(res).queue).toEqual({ position: 2 });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      KeyConditionExpression: 'PK = :pk AND SK <= :id',
      ExpressionAttributeValues: { ':pk': `QUEUE#${TENANT}`, ':id': JOB_ID },
      ConsistentRead: true,
    });
  });

  it('an admitted pending job and a running one show no queue, the running one without a query', async () => {
    ddb.on(GetCommand).resolves({ Item: stored({ status: 'pending' }) });
    expect(bodyOf(await get(JOB_ID))).not.toHaveProperty('queue');
    ddb.reset();
    ddb.on(GetCommand).resolves({ Item: stored({ status: 'running' }) });
    expect(bodyOf(await get(JOB_ID))).not.toHaveProperty('queue');
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("404 for another tenant's job: the key is built from the caller's tenant", async () => {
    ddb.on(GetCommand, { Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' } }).resolves({ Item: stored({}) });
    ddb.on(GetCommand, { Key: { PK: jobPk('globex', JOB_ID), SK: 'JOB' } }).resolves({});
    expect((await get(JOB_ID)).statusCode).toBe(200);
    expectProblem(await get(JOB_ID, 'globex'), 404, 'not_found');
  });

  it('404 for an expired job still in the table', async () => {
    ddb.on(GetCommand).resolves({
      Item: stored({ status: 'succeeded', expiresAt: new Date(NOW.getTime() - 1).toISOString() }),
    });
    expectProblem(await get(JOB_ID), 404, 'not_found');
  });

  it.each([
    ['nope'],
    ['job_'],
    [`${JOB_ID}x`],
    ['JOB_01JD3K5Q7X9V2M4N6P8R0S2T4W'],
    ['job_01jd3k5q7x9v2m4n6p8r0s2t4u'],
  ])('400 for a malformed id %s, without reading the table', async (id) => {
    const body = expectProblem(await get(id), 400, 'validation_failed');
    expect(expectFieldErrors(body)[0]?.path).toBe('path.id');
    expect(ddb.calls()).toHaveLength(0);
  });

  it('with Prefer: wait, holds until the job is terminal and answers 200 with Preference-Applied', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: stored({ status: 'running' }) })
      .resolvesOnce({ Item: stored({ status: 'running' }) })
      .resolves({ Item: stored({ status: 'succeeded', result: { ok: true } }) });

    const res = await handler(
      apiEvent({
        path: `/v1/jobs/${JOB_ID}`,
        pathParameters: { id: JOB_ID },
        headers: { prefer: 'wait=25' },
      }),
      lambdaContext,
    );

    expect(res.statusCode).toBe(200);
    expect(headerOf(res, 'preference-applied')).toBe('wait=20');
    expect(headerOf(res, 'retry-after')).toBeUndefined();
    expect(bodyOf(res)).toMatchObject({ status: 'succeeded', result: { ok: true } });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(3);
  });

  describe('conditional requests', () => {
    const getIf = (ifNoneMatch: string) =>
      handler(
        apiEvent({
          path: `/v1/jobs/${JOB_ID}`,
          pathParameters: { id: JOB_ID },
          headers: { 'if-none-match': ifNoneMatch },
        }),
        lambdaContext,
      );
    const running = (step: number) =>
      stored({ status: 'running', progress: { fraction: step / 10, step, message: null } });

    it('answers 200 with a strong ETag that changes when the job does', async () => {
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: running(1) })
        .resolves({ Item: running(2) });
      const first = await get(JOB_ID);
      const second = await get(JOB_ID);
      expect(headerOf(first, 'etag')).toMatch(/^"[\w-]{32}"$/);
      expect(headerOf(second, 'etag')).toMatch(/^"[\w-]{32}"$/);
      expect(headerOf(second, 'etag')).not.toBe(headerOf(first, 'etag'));
    });

    it('answers 304 with no body, the same ETag and Retry-After when If-None-Match holds the current tag', async () => {
      ddb.on(GetCommand).resolves({ Item: running(1) });
      const tag = headerOf(await get(JOB_ID), 'etag')!;
      for (const ifNoneMatch of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
        const res = await getIf(ifNoneMatch);
        expect(res.statusCode, ifNoneMatch).toBe(304);
        expect(res.body).toBe('');
        expect(headerOf(res, 'etag')).toBe(tag);
        expect(headerOf(res, 'retry-after')).toBe(headerOf(await get(JOB_ID), 'retry-after'));
        expect(headerOf(res, 'content-type')).toBeUndefined();
      }
    });

    it('answers 200 with the whole job when the tag is stale', async () => {
      ddb
        .on(GetCommand)
        .resolvesOnce({ Item: running(1) })
        .resolves({ Item: running(2) });
      const tag = headerOf(await get(JOB_ID), 'etag')!;
      const res = await getIf(tag);
      expect(res.statusCode).toBe(200);
      expect(bodyOf(res)).toMatchObject({ progress: { step: 2 } });
    });

    it('a problem answer carries no ETag and is never a 304', async () => {
      ddb.on(GetCommand).resolves({});
      const res = await getIf('*');
      expectProblem(res, 404, 'not_found');
      expect(headerOf(res, 'etag')).toBeUndefined();
    });
  });

  it('500 problem+json when the table fails', async () => {
    ddb.on(GetCommand).rejects(new Error('boom'));
    expectProblem(await get(JOB_ID), 500, 'internal_error');
  });
});
