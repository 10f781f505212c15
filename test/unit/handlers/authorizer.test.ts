import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../../../lambdas/domain/api-key.js';
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

function knowKey(key: string, tenant: string) {
  ddb.on(GetCommand, { Key: { PK: `K#${hashApiKey(key)}`, SK: 'KEY' } }).resolves({ Item: { tenant } });
}

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
      context: { tenant: 'acme' },
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      TableName: TABLE_NAME,
      Key: { PK: `K#${hashApiKey(key)}`, SK: 'KEY' },
    });
  });

  it('allows a known key sent as x-api-key, whatever the header case', async () => {
    const key = uniqueKey();
    knowKey(key, 'globex');
    expect((await handler(event({ 'X-Api-Key': key }))).context).toEqual({ tenant: 'globex' });
  });

  it('prefers the Bearer key when both headers are sent', async () => {
    const bearer = uniqueKey();
    const header = uniqueKey();
    knowKey(bearer, 'from-bearer');
    knowKey(header, 'from-header');
    expect(
      (await handler(event({ authorization: `Bearer ${bearer}`, 'x-api-key': header }))).context,
    ).toEqual({ tenant: 'from-bearer' });
  });

  it('never sends the key itself to the table, only its hash', async () => {
    const key = uniqueKey();
    knowKey(key, 'acme');
    await handler(event({ authorization: `Bearer ${key}` }));
    expect(JSON.stringify(ddb.commandCalls(GetCommand)[0]?.args[0].input)).not.toContain(key);
  });

  it("throws 'Unauthorized' for an unknown key", async () => {
    await expect(handler(event({ authorization: `Bearer ${uniqueKey()}` }))).rejects.toThrow(
      /^Unauthorized$/,
    );
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
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

  it('remembers a known key for a minute, then looks it up again', async () => {
    vi.useFakeTimers({ now: new Date('2025-06-01T10:00:00.000Z'), toFake: ['Date'] });
    const key = uniqueKey();
    knowKey(key, 'acme');

    await handler(event({ authorization: `Bearer ${key}` }));
    vi.setSystemTime(new Date('2025-06-01T10:00:59.000Z'));
    await handler(event({ authorization: `Bearer ${key}` }));
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);

    vi.setSystemTime(new Date('2025-06-01T10:01:01.000Z'));
    expect((await handler(event({ authorization: `Bearer ${key}` }))).context).toEqual({ tenant: 'acme' });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('does not remember unknown keys', async () => {
    const key = uniqueKey();
    await expect(handler(event({ authorization: `Bearer ${key}` }))).rejects.toThrow('Unauthorized');
    knowKey(key, 'acme');
    expect((await handler(event({ authorization: `Bearer ${key}` }))).context).toEqual({ tenant: 'acme' });
  });
});
