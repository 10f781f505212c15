import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashApiKey, keyIdFor, newApiKeyRecord } from '../../../lambdas/domain/api-key.js';
import { BUILT_IN_LIMITS } from '../../../lambdas/domain/tenant-limits.js';
import '../support/handler-env.js';
import { TABLE_NAME } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/authorizer.js');
const ddb = mockClient(DynamoDBDocumentClient);
const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:api/v1/GET/jobs';

/** Keys are unique per test: the authorizer caches warm lookups for a minute. */
let seq = 0;
const uniqueKey = () => `sk_test_${process.pid}_${++seq}_${Math.random().toString(36).slice(2)}`;

function event(headers: Record<string, string> | null): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    resource: '/jobs',
    path: '/v1/jobs',
    httpMethod: 'GET',
    headers,
    multiValueHeaders: null,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

const RATE = BUILT_IN_LIMITS.requestsPerMinute;
const STREAMS = BUILT_IN_LIMITS.maxStreams;
const QUEUED = BUILT_IN_LIMITS.maxQueuedJobs;

function knowKey(key: string, tenant: string, changes: { expiresAt?: string; revokedAt?: string } = {}) {
  const record = { ...newApiKeyRecord(key, tenant, 'test', new Date('2025-01-01T00:00:00Z')), ...changes };
  ddb.on(GetCommand, { Key: { PK: `K#${keyIdFor(key)}`, SK: 'KEY' } }).resolves({ Item: record });
}

/** The lookups of key items (the tenant's limits are read too, and cached apart). */
const keyLookups = () =>
  ddb.commandCalls(GetCommand).filter((c) => String(c.args[0].input.Key?.PK).startsWith('K#'));

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
});

afterEach(() => {
  vi.useRealTimers();
});

describe('authorizer', () => {
  it('allows a known Bearer key and passes its tenant in the context', async () => {
    const key = uniqueKey();
    knowKey(key, 'acme');

    const out = await handler(event({ Authorization: `Bearer ${key}` }));

    expect(out).toEqual({
      principalId: 'acme',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { tenant: 'acme', requestsPerMinute: RATE, maxStreams: STREAMS, maxQueuedJobs: QUEUED },
    });
    expect(keyLookups()[0]?.args[0].input).toMatchObject({
      TableName: TABLE_NAME,
      Key: { PK: `K#${keyIdFor(key)}`, SK: 'KEY' },
    });
  });

  it('allows a known key sent as x-api-key, whatever the header case', async () => {
    const key = uniqueKey();
    knowKey(key, 'globex');
    expect((await handler(event({ 'X-Api-Key': key }))).context).toEqual({
      tenant: 'globex',
      requestsPerMinute: RATE,
      maxStreams: STREAMS,
      maxQueuedJobs: QUEUED,
    });
  });

  it('prefers the Bearer key when both headers are sent', async () => {
    const bearer = uniqueKey();
    const header = uniqueKey();
    knowKey(bearer, 'from-bearer');
    knowKey(header, 'from-header');
    expect(
      (await handler(event({ authorization: `Bearer ${bearer}`, 'x-api-key': header }))).context,
    ).toEqual({ tenant: 'from-bearer', requestsPerMinute: RATE, maxStreams: STREAMS, maxQueuedJobs: QUEUED });
  });

  it('never sends the key itself to the table, only its hash', async () => {
    const key = uniqueKey();
    knowKey(key, 'acme');
    await handler(event({ authorization: `Bearer ${key}` }));
    const sent = JSON.stringify(ddb.commandCalls(GetCommand).map((c) => c.args[0].input));
    expect(sent).not.toContain(key);
    expect(sent).not.toContain(hashApiKey(key));
  });

  it("throws 'Unauthorized' for an unknown key", async () => {
    await expect(handler(event({ authorization: `Bearer ${uniqueKey()}` }))).rejects.toThrow(
      /^Unauthorized$/,
    );
    expect(keyLookups()).toHaveLength(1);
  });

  it('refuses a key whose item holds another hash under the same id', async () => {
    const key = uniqueKey();
    const record = newApiKeyRecord(key, 'acme', 'test', new Date());
    ddb
      .on(GetCommand, { Key: { PK: `K#${keyIdFor(key)}`, SK: 'KEY' } })
      .resolves({ Item: { ...record, keyHash: hashApiKey(`${key}-other`) } });
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow(/^Unauthorized$/);
  });

  it("throws 'Unauthorized' for a revoked key", async () => {
    const key = uniqueKey();
    knowKey(key, 'acme', { revokedAt: '2025-01-02T00:00:00.000Z' });
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow(/^Unauthorized$/);
  });

  it('refuses a cached key from the moment it expires, without another lookup', async () => {
    vi.useFakeTimers({ now: new Date('2025-06-01T10:00:00.000Z'), toFake: ['Date'] });
    const key = uniqueKey();
    knowKey(key, 'acme', { expiresAt: '2025-06-01T10:00:10.000Z' });
    expect((await handler(event({ authorization: `Bearer ${key}` }))).principalId).toBe('acme');
    vi.setSystemTime(new Date('2025-06-01T10:00:10.000Z'));
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow(/^Unauthorized$/);
    expect(keyLookups()).toHaveLength(1);
  });

  it("passes the tenant's own request rate, stream limit and queued-job bound over the defaults", async () => {
    const key = uniqueKey();
    knowKey(key, 'limited');
    ddb
      .on(GetCommand, { Key: { PK: 'TENANT#limited', SK: 'LIMITS' } })
      .resolves({ Item: { tenant: 'limited', requestsPerMinute: 7, maxStreams: 2, maxQueuedJobs: 3 } });
    expect((await handler(event({ authorization: `Bearer ${key}` }))).context).toEqual({
      tenant: 'limited',
      requestsPerMinute: 7,
      maxStreams: 2,
      maxQueuedJobs: 3,
    });
  });

  it.each([
    ['no headers', null],
    ['no credentials', { accept: 'application/json' }],
    ['a Basic credential', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])("throws 'Unauthorized' with %s, without a lookup", async (_name, headers) => {
    await expect(handler(event(headers))).rejects.toThrow(/^Unauthorized$/);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('remembers a key for 30 seconds, then looks it up again (a revocation lands within 30 s)', async () => {
    vi.useFakeTimers({ now: new Date('2025-06-01T10:00:00.000Z'), toFake: ['Date'] });
    const key = uniqueKey();
    knowKey(key, 'acme');

    await handler(event({ authorization: `Bearer ${key}` }));
    vi.setSystemTime(new Date('2025-06-01T10:00:29.000Z'));
    await handler(event({ authorization: `Bearer ${key}` }));
    expect(keyLookups()).toHaveLength(1);

    knowKey(key, 'acme', { revokedAt: '2025-06-01T10:00:20.000Z' });
    vi.setSystemTime(new Date('2025-06-01T10:00:31.000Z'));
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow(/^Unauthorized$/);
    expect(keyLookups()).toHaveLength(2);
  });

  it('remembers an unknown key as unknown for 30 s too, so a flood of bad keys costs few reads', async () => {
    const key = uniqueKey();
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow('Unauthorized');
    knowKey(key, 'acme');
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow('Unauthorized');
    expect(keyLookups()).toHaveLength(1);
    vi.useFakeTimers({ now: new Date(Date.now() + 31_000), toFake: ['Date'] });
    expect((await handler(event({ authorization: `Bearer ${key}` }))).principalId).toBe('acme');
  });
});
