import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { idempotencyKeyId, JOB_ID_PATTERN } from '../../../lambdas/domain/idempotency.js';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  expectFieldErrors,
  expectProblem,
  headerOf,
  lambdaContext,
  TENANT,
  VALUES_BUCKET,
} from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/create-job.js');
const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-06-01T10:00:00.000Z');

const submitEvent = (body: unknown, headers: Record<string, string> = {}, raw?: string) =>
  apiEvent({
    method: 'POST',
    path: '/v1/jobs',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: raw ?? JSON.stringify(body),
  });

const post = (body: unknown, headers: Record<string, string> = {}, raw?: string) =>
  handler(submitEvent(body, headers, raw), lambdaContext);

/** Submits written: each is one transaction (the job, its queue entry, the queued count). */
const putCount = () => ddb.commandCalls(TransactWriteCommand).length;

/** The job item the `n`th submit wrote. */
const jobItemOf = (n = 0) =>
  ddb
    .commandCalls(TransactWriteCommand)
    [n]?.args[0].input.TransactItems?.find((i) => i.Put?.Item?.SK === 'JOB')?.Put?.Item as Record<
    string,
    unknown
  >;

/** The job item the last keyed submit wrote, from its transaction. */
const keyedJobItem = () =>
  ddb.commandCalls(TransactWriteCommand).at(-1)?.args[0].input.TransactItems?.[1]?.Put?.Item as Record<
    string,
    string
  >;

/** From now on the table holds that job and its key item. */
function storedAs(job: Record<string, string>) {
  ddb.reset();
  ddb.on(GetCommand).resolves({ Item: { jobId: job.id } });
  ddb.on(GetCommand, { Key: { PK: job.PK, SK: 'JOB' } }).resolves({ Item: job });
}

const transactionCancelled = () =>
  Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException' });

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('POST /v1/jobs', () => {
  it('422 agent_unavailable for the assistant while no model provider is configured, storing nothing', async () => {
    const res = await post({ agent: 'assistant', input: { prompt: 'hi' } });
    expect(res.statusCode).toBe(422);
    expect(bodyOf(res)).toMatchObject({ code: 'agent_unavailable' });
    expect(putCount()).toBe(0);
  });

  it('accepts a job: 202, Location, Retry-After and the job resource', async () => {
    const res = await post({ agent: 'echo', input: { message: 'hello', steps: 2 }, metadata: { run: 7 } });

    expect(res.statusCode).toBe(202);
    expect(headerOf(res, 'content-type')).toBe('application/json');
    const body = bodyOf(res);
    expect(body.id).toMatch(JOB_ID_PATTERN);
    expect(headerOf(res, 'location')).toBe(`/v1/jobs/${body.id}`);
    expect(headerOf(res, 'retry-after')).toBe('1');
    expect(headerOf(res, 'idempotent-replayed')).toBeUndefined();
    expect(body).toEqual({
      id: body.id,
      agent: 'echo',
      agentVersion: '1.0.0',
      status: 'pending',
      attempt: 1,
      input: { message: 'hello', steps: 2 },
      metadata: { run: 7 },
      progress: { fraction: 0, step: 0, message: null },
      result: null,
      error: null,
      inputRequest: null,
      usage: null,
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      startedAt: null,
      completedAt: null,
      expiresAt: expect.any(String),
      links: {
        self: `/v1/jobs/${body.id}`,
        cancel: `/v1/jobs/${body.id}/cancel`,
        events: `/v1/jobs/${body.id}/events`,
        stream: `/v1/jobs/${body.id}/stream`,
      },
    });
    expect(new Date(body.expiresAt as string).getTime()).toBeGreaterThan(NOW.getTime() + 900_000);

    expect(putCount()).toBe(1);
    const item = jobItemOf();
    expect(item).toMatchObject({
      PK: `T#${TENANT}#J#${body.id}`,
      tenant: TENANT,
      agent: 'echo',
      status: 'pending',
      input: { message: 'hello', steps: 2 },
      timeoutSeconds: 900,
      executionName: body.id,
    });
  });

  it('stores the requested timeout and webhook, and keeps the input as sent (not with defaults)', async () => {
    await post({
      agent: 'echo',
      input: { message: 'x' },
      timeoutSeconds: 3_600,
      webhook: { url: 'https://hooks.example/x' },
    });
    expect(jobItemOf()).toMatchObject({
      timeoutSeconds: 3_600,
      webhook: { url: 'https://hooks.example/x' },
      input: { message: 'x' },
    });
  });

  it('accepts a +json media type with parameters and a base64-encoded body', async () => {
    const raw = Buffer.from(JSON.stringify({ agent: 'echo', input: { message: 'b64' } })).toString('base64');
    const res = await handler(
      apiEvent({
        method: 'POST',
        headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' },
        body: raw,
        isBase64Encoded: true,
      }),
      lambdaContext,
    );
    expect(res.statusCode).toBe(202);
    expect(bodyOf(res).input).toEqual({ message: 'b64' });
  });

  it('records the Idempotency-Key beside a job of its own id, in one transaction', async () => {
    const res = await post({ agent: 'echo', input: { message: 'm' } }, { 'Idempotency-Key': 'order-1' });
    expect(res.statusCode).toBe(202);
    const id = bodyOf(res).id as string;
    expect(id).toMatch(JOB_ID_PATTERN);
    const [keyPut, jobPut] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(keyPut?.Put?.Item).toMatchObject({
      PK: `T#${TENANT}#I#${idempotencyKeyId(TENANT, 'order-1')}`,
      SK: 'IDEMPOTENCY',
      jobId: id,
    });
    expect(keyPut?.Put?.ConditionExpression).toBe('attribute_not_exists(PK)');
    expect(jobPut?.Put?.Item).toMatchObject({ id, SK: 'JOB' });
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
    expect(putCount()).toBe(1);
  });

  it("holds the submit to the tenant's maxQueuedJobs from the authorizer", async () => {
    const event = submitEvent({ agent: 'echo', input: { message: 'm' } });
    event.requestContext.authorizer = { tenant: TENANT, maxQueuedJobs: 3 };
    expect((await handler(event, lambdaContext)).statusCode).toBe(202);
    const counted = ddb
      .commandCalls(TransactWriteCommand)[0]
      ?.args[0].input.TransactItems?.find((i) => i.Update)?.Update;
    expect(counted).toMatchObject({
      Key: { PK: `SLOTS#${TENANT}`, SK: 'SLOTS' },
      ExpressionAttributeValues: expect.objectContaining({ ':max': 3 }),
    });
  });

  it('admits the request rate inside the submit transaction: one round trip, RateLimit fields set', async () => {
    const event = submitEvent({ agent: 'echo', input: { message: 'm' } });
    event.requestContext.authorizer = { tenant: TENANT, requestsPerMinute: 60 };
    const res = await handler(event, lambdaContext);
    expect(res.statusCode).toBe(202);
    expect(ddb.calls()).toHaveLength(1);
    const [rate] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(rate?.Update).toMatchObject({
      Key: { PK: `RATE#${TENANT}`, SK: 'REQUESTS' },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(headerOf(res, 'ratelimit')).toBe('"requests";r=59;t=1');
  });

  it('counts a submit that wrote nothing (bad input) with the limiter write, and refuses it over the limit', async () => {
    ddb.on(UpdateCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
        // A bucket busy far ahead, whatever clock the limiter reads.
        Item: { tat: { N: String(4_000_000_000_000) } },
      }),
    );
    const event = apiEvent({
      method: 'POST',
      path: '/v1/jobs',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent: 'nope', input: {} }),
    });
    event.requestContext.authorizer = { tenant: TENANT, requestsPerMinute: 60 };
    const res = await handler(event, lambdaContext);
    expectProblem(res, 429, 'rate_limited');
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.Key).toEqual({
      PK: `RATE#${TENANT}`,
      SK: 'REQUESTS',
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('answers 429 quota_exceeded with Retry-After when the queue is full', async () => {
    ddb.on(TransactWriteCommand).rejects(
      Object.assign(new Error('Transaction cancelled'), {
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
      }),
    );
    const res = await post({ agent: 'echo', input: { message: 'm' } });
    expectProblem(res, 429, 'quota_exceeded');
    expect(headerOf(res, 'retry-after')).toBe('60');
  });

  it('replays the same key and body from two reads and no write: 202, same job, Idempotent-Replayed', async () => {
    const first = await post(
      { agent: 'echo', input: { message: 'm', steps: 2 } },
      { 'Idempotency-Key': 'order-2' },
    );
    storedAs(keyedJobItem());
    vi.setSystemTime(new Date(NOW.getTime() + 5_000));

    const again = await post(
      undefined,
      { 'Idempotency-Key': 'order-2' },
      '{ "input": {"steps": 2, "message": "m"},\n "agent": "echo" }',
    );

    expect(again.statusCode).toBe(202);
    expect(headerOf(again, 'idempotent-replayed')).toBe('true');
    expect(headerOf(again, 'location')).toBe(headerOf(first, 'location'));
    expect(headerOf(again, 'retry-after')).toBe('1');
    expect(bodyOf(again)).toEqual(bodyOf(first));
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('replays the job of a duplicate that won the race for the key', async () => {
    await post({ agent: 'echo', input: { message: 'm' } }, { 'Idempotency-Key': 'race' });
    const stored = keyedJobItem();
    ddb.reset();
    ddb
      .on(GetCommand)
      .resolvesOnce({})
      .resolves({ Item: { jobId: stored.id } });
    ddb.on(GetCommand, { Key: { PK: stored.PK, SK: 'JOB' } }).resolves({ Item: stored });
    ddb.on(TransactWriteCommand).rejects(transactionCancelled());

    const again = await post({ agent: 'echo', input: { message: 'm' } }, { 'Idempotency-Key': 'race' });

    expect(again.statusCode).toBe(202);
    expect(headerOf(again, 'idempotent-replayed')).toBe('true');
    expect(bodyOf(again).id).toBe(stored.id);
  });

  it('refuses the same key with a different body: 422 idempotency_key_mismatch', async () => {
    await post({ agent: 'echo', input: { message: 'one' } }, { 'Idempotency-Key': 'order-3' });
    storedAs(keyedJobItem());

    const res = await post({ agent: 'echo', input: { message: 'two' } }, { 'Idempotency-Key': 'order-3' });

    expectProblem(res, 422, 'idempotency_key_mismatch');
    expect(headerOf(res, 'idempotent-replayed')).toBeUndefined();
  });

  it('answers 409 idempotency_key_in_use with Retry-After when the key is taken but its job not readable', async () => {
    ddb.on(TransactWriteCommand).rejects(transactionCancelled());

    const res = await post({ agent: 'echo', input: { message: 'm' } }, { 'Idempotency-Key': 'k' });

    expectProblem(res, 409, 'idempotency_key_in_use');
    expect(headerOf(res, 'retry-after')).toBe('1');
  });

  it('a body of exactly 256 KiB is not refused for its size (only for what it holds)', async () => {
    const skeleton = JSON.stringify({ agent: 'echo', input: { message: '' } });
    const raw = JSON.stringify({
      agent: 'echo',
      input: { message: 'p'.repeat(256 * 1024 - skeleton.length) },
    });
    expect(Buffer.byteLength(raw)).toBe(256 * 1024);
    const res = await post(undefined, {}, raw);
    expectProblem(res, 400, 'invalid_input');
  });

  it('metadata of exactly 16 KiB serialized is accepted, stored in the values bucket with a reference in the item', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const note = 'n'.repeat(16 * 1024 - '{"note":""}'.length);
    const res = await post({ agent: 'echo', input: { message: 'm' }, metadata: { note } });
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body as string).metadata).toEqual({ note });
    const [put] = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(put).toMatchObject({ Bucket: VALUES_BUCKET, Key: expect.stringMatching(/^jobs\/.+\/metadata\//) });
    expect(JSON.parse(put!.Body as string)).toEqual({ note });
    const item = jobItemOf();
    expect(item).not.toHaveProperty('metadata');
    expect(item.metadataRef).toEqual({ key: put!.Key, bytes: 16 * 1024 });
    expect(item.input).toEqual({ message: 'm' });
    s3.restore();
  });

  it('keeps a small input in the item: the submit is one transaction and nothing else', async () => {
    const s3 = mockClient(S3Client);
    expect((await post({ agent: 'echo', input: { message: 'm' } })).statusCode).toBe(202);
    expect(ddb.calls()).toHaveLength(1);
    expect(s3.calls()).toHaveLength(0);
    s3.restore();
  });

  it('turns an unexpected store failure into a problem+json 500', async () => {
    ddb.on(TransactWriteCommand).rejects(new Error('socket hang up'));
    const res = await post({ agent: 'echo', input: { message: 'm' } });
    const body = expectProblem(res, 500, 'internal_error');
    expect(JSON.stringify(body)).not.toContain('socket hang up');
  });
});

describe('POST /v1/jobs rejections never write', () => {
  afterEach(() => {
    expect(putCount()).toBe(0);
  });

  it('unknown agent: 422 unknown_agent', async () => {
    const res = await post({ agent: 'nope', input: {} });
    expectProblem(res, 422, 'unknown_agent');
  });

  it("input not matching the echo agent's schema: 400 invalid_input with errors", async () => {
    const res = await post({ agent: 'echo', input: { message: 3, steps: 99, extra: true } });
    const body = expectProblem(res, 400, 'invalid_input');
    const paths = expectFieldErrors(body).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['input.message', 'input.steps']));
    expect(paths.every((p) => p.startsWith('input'))).toBe(true);
  });

  it.each([
    ['missing input', { agent: 'echo' }, 'body.input'],
    ['missing agent', { input: {} }, 'body.agent'],
    ['unknown field', { agent: 'echo', input: { message: 'm' }, priority: 1 }, 'body'],
    ['metadata not an object', { agent: 'echo', input: { message: 'm' }, metadata: [1] }, 'body.metadata'],
    [
      'webhook not http(s)',
      { agent: 'echo', input: { message: 'm' }, webhook: { url: 'ftp://x.example/' } },
      'body.webhook.url',
    ],
    // A deployed stack (the default here) refuses what a local one would accept.
    [
      'webhook over plain http',
      { agent: 'echo', input: { message: 'm' }, webhook: { url: 'http://hooks.example/x' } },
      'body.webhook.url',
    ],
    [
      'webhook to a private address',
      { agent: 'echo', input: { message: 'm' }, webhook: { url: 'https://10.0.0.8/x' } },
      'body.webhook.url',
    ],
    [
      'webhook to the metadata service',
      { agent: 'echo', input: { message: 'm' }, webhook: { url: 'https://169.254.169.254/latest' } },
      'body.webhook.url',
    ],
    [
      'webhook with credentials in the URL',
      { agent: 'echo', input: { message: 'm' }, webhook: { url: 'https://user:pw@hooks.example/x' } },
      'body.webhook.url',
    ],
    [
      'timeoutSeconds not an integer',
      { agent: 'echo', input: { message: 'm' }, timeoutSeconds: 1.5 },
      'body.timeoutSeconds',
    ],
    [
      'timeoutSeconds zero',
      { agent: 'echo', input: { message: 'm' }, timeoutSeconds: 0 },
      'body.timeoutSeconds',
    ],
    ['a body that is not an object', ['echo'], 'body'],
  ])('%s: 400 validation_failed', async (_name, body, path) => {
    const res = await post(body);
    const problem = expectProblem(res, 400, 'validation_failed');
    expect(expectFieldErrors(problem).some((e) => e.path === path)).toBe(true);
  });

  const deep = (levels: number): unknown => (levels === 0 ? 1 : [deep(levels - 1)]);
  it.each([
    ['metadata with an empty key', { metadata: { '': 1 } }, 'body.metadata'],
    ['an empty key nested in metadata', { metadata: { a: { b: { '': 1 } } } }, 'body.metadata.a.b'],
    ['metadata nested deeper than DynamoDB stores', { metadata: { a: deep(40) } }, 'body.metadata.a'],
    ['a number DynamoDB cannot store', { metadata: { tiny: 5e-324 } }, 'body.metadata.tiny'],
    ['an integer beyond 2^53', { metadata: { big: -(2 ** 53) } }, 'body.metadata.big'],
    ['metadata over 16 KiB serialized', { metadata: { note: 'n'.repeat(16 * 1024) } }, 'body.metadata'],
  ])('%s: 400 validation_failed, nothing written', async (_name, extra, pathPrefix) => {
    const res = await post({ agent: 'echo', input: { message: 'm' }, ...extra });
    const problem = expectProblem(res, 400, 'validation_failed');
    expect(expectFieldErrors(problem).some((e) => e.path.startsWith(pathPrefix))).toBe(true);
    expect(putCount()).toBe(0);
  });

  it("timeoutSeconds over the agent's maximum: 400 naming the field", async () => {
    const res = await post({ agent: 'echo', input: { message: 'm' }, timeoutSeconds: 3_601 });
    const body = expectProblem(res, 400, 'validation_failed');
    expect(expectFieldErrors(body)).toEqual([
      { path: 'timeoutSeconds', message: expect.stringContaining('3600') },
    ]);
  });

  it('malformed JSON: 400', async () => {
    const res = await post(undefined, {}, '{"agent": "echo", "input": {');
    const body = expectProblem(res, 400, 'validation_failed');
    expect(expectFieldErrors(body)[0]?.path).toBe('body');
  });

  it('an empty body: 400', async () => {
    const res = await handler(
      apiEvent({ method: 'POST', headers: { 'content-type': 'application/json' }, body: null }),
      lambdaContext,
    );
    expectProblem(res, 400, 'validation_failed');
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['application/jsonx']])(
    'Content-Type %s: 415',
    async (type) => {
      const res = await post(
        undefined,
        { 'Content-Type': type },
        JSON.stringify({ agent: 'echo', input: { message: 'm' } }),
      );
      expectProblem(res, 415, 'unsupported_media_type');
    },
  );

  it('no Content-Type: 415', async () => {
    const res = await handler(
      apiEvent({
        method: 'POST',
        headers: {},
        body: JSON.stringify({ agent: 'echo', input: { message: 'm' } }),
      }),
      lambdaContext,
    );
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('a body over 256 KiB: 413', async () => {
    const raw = JSON.stringify({ agent: 'echo', input: { message: 'x'.repeat(256 * 1024) } });
    const res = await post(undefined, {}, raw);
    expectProblem(res, 413, 'payload_too_large');
  });

  it.each([
    ['6 MB', 6 * 1024 * 1024, false],
    ['10 MB', 10 * 1024 * 1024, false],
    ['9 MB, base64-encoded', 9 * 1024 * 1024, true],
  ])('a body of %s (what API Gateway lets through): 413, nothing written', async (_, bytes, base64) => {
    const text = JSON.stringify({ agent: 'echo', input: { message: 'x'.repeat(bytes) } });
    const res = await handler(
      apiEvent({
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: base64 ? Buffer.from(text).toString('base64') : text,
        isBase64Encoded: base64,
      }),
      lambdaContext,
    );
    expectProblem(res, 413, 'payload_too_large');
    expect(putCount()).toBe(0);
  });

  it('an object key of 64 KB or more anywhere in the input: 400 validation_failed (DynamoDB stores none)', async () => {
    const key = 'k'.repeat(65_536);
    const res = await post({ agent: 'echo', input: { message: 'm', nested: { [key]: 1 } } });
    const problem = expectProblem(res, 400, 'validation_failed');
    expect(expectFieldErrors(problem)).toContainEqual({
      path: 'body.input.nested',
      message: 'object keys must be at most 65535 bytes',
    });
    expect(putCount()).toBe(0);
  });

  it('an Idempotency-Key over 255 characters: 400', async () => {
    const res = await post(
      { agent: 'echo', input: { message: 'm' } },
      { 'Idempotency-Key': 'k'.repeat(256) },
    );
    const body = expectProblem(res, 400, 'validation_failed');
    expect(expectFieldErrors(body)[0]?.path).toBe('headers.idempotency-key');
  });

  it('an Idempotency-Key with a control character: 400', async () => {
    const res = await post({ agent: 'echo', input: { message: 'm' } }, { 'Idempotency-Key': 'a\u0001b' });
    expectProblem(res, 400, 'validation_failed');
  });

  it('no tenant from the authorizer: 401', async () => {
    const res = await handler(
      apiEvent({
        method: 'POST',
        tenant: null,
        headers: { 'content-type': 'application/json' },
        body: '{"agent":"echo","input":{"message":"m"}}',
      }),
      lambdaContext,
    );
    expectProblem(res, 401, 'unauthorized');
  });
});
