import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import '../support/handler-env.js';
import { apiEvent, bodyOf, lambdaContext, TABLE_NAME, TENANT } from '../support/fixtures.js';

vi.stubEnv('AGENT_JOBS_DEFAULT_LIMITS', JSON.stringify({ tokensPerMinute: 50_000 }));
const { handler } = await import('../../../lambdas/handlers/get-usage.js');
const ddb = mockClient(DynamoDBDocumentClient);

const usage = (query: Record<string, string>) =>
  handler(apiEvent({ path: '/v1/usage', query }), lambdaContext);

beforeEach(() => {
  ddb.reset();
  vi.useRealTimers();
});

describe('GET /v1/usage', () => {
  it("answers the tenant's days from one Query of its partition, with its effective limits", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          day: '2026-12-01',
          jobs: 2,
          modelCalls: 3,
          inputTokens: 33,
          outputTokens: 21,
          costNanoUsd: 17_550,
          unpricedCalls: 0,
        },
        {
          day: '2026-12-03',
          jobs: 0,
          modelCalls: 1,
          inputTokens: 11,
          outputTokens: 7,
          costNanoUsd: 0,
          unpricedCalls: 1,
        },
      ],
    });
    ddb.on(GetCommand).resolves({ Item: { tenant: TENANT, maxStreams: 3 } });
    const res = await usage({ from: '2026-12-01', to: '2026-12-05' });
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({
      items: [
        {
          date: '2026-12-01',
          jobs: 2,
          modelCalls: 3,
          inputTokens: 33,
          outputTokens: 21,
          costUsd: 0.00001755,
        },
        { date: '2026-12-03', jobs: 0, modelCalls: 1, inputTokens: 11, outputTokens: 7, costUsd: null },
      ],
      limits: {
        requestsPerMinute: 600,
        tokensPerMinute: 50_000,
        maxRunningJobs: 10,
        maxQueuedJobs: 1_000,
        maxStreams: 3,
      },
    });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      TableName: TABLE_NAME,
      KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': `TENANT#${TENANT}`,
        ':from': 'USAGE#2026-12-01',
        ':to': 'USAGE#2026-12-05',
      },
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input.Key).toEqual({
      PK: `TENANT#${TENANT}`,
      SK: 'LIMITS',
    });
  });

  it('defaults to the 30 days up to today (UTC)', async () => {
    vi.useFakeTimers({ now: new Date('2026-12-05T23:30:00Z'), toFake: ['Date'] });
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(GetCommand).resolves({});
    const res = await usage({});
    expect(bodyOf(res).items).toEqual([]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':from': 'USAGE#2026-11-06',
      ':to': 'USAGE#2026-12-05',
    });
  });

  it.each([
    [{ from: '2026-12-32' }, 'query.from'],
    [{ from: '2026-12-05', to: '2026-12-04' }, 'query.to'],
    [{ from: '2026-01-01', to: '2026-04-03' }, 'query.to'],
    [{ from: '2026-01-01', to: '2026-01-02', tenant: 'other' }, 'query'],
  ])('refuses %j with a 400 validation problem, reading nothing', async (query, path) => {
    const res = await usage(query);
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['Content-Type']).toMatch(/^application\/problem\+json/);
    expect(bodyOf(res)).toMatchObject({
      code: 'validation_failed',
      errors: [expect.objectContaining({ path })],
    });
    expect(ddb.calls()).toHaveLength(0);
  });
});
