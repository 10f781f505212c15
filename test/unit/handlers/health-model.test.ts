import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import '../support/handler-env.js';
import { ScriptedModelServer } from '../../fixtures/scripted-model-server.js';
import { apiEvent, bodyOf, lambdaContext } from '../support/fixtures.js';

// The handler reads its provider configuration when it loads: the server must be up first.
const server = await new ScriptedModelServer({ models: ['the-model'] }).start();
vi.stubEnv('AGENT_JOBS_OPENAI_BASE_URL', server.baseUrl);
vi.stubEnv('AGENT_JOBS_MODEL', 'the-model');
const ready = (await import('../../../lambdas/handlers/health-ready.js')).handler;
const dynamo = mockClient(DynamoDBClient);
const sfn = mockClient(SFNClient);

const call = async () => {
  const res = await ready(apiEvent({ path: '/v1/health/ready', tenant: null }), lambdaContext);
  return { status: res.statusCode, body: bodyOf(res) };
};
const modelCheck = (body: Record<string, unknown>) =>
  (body.checks as { name: string }[]).find((c) => c.name === 'modelProvider');
const modelRequests = () => server.requests.filter((r) => r.path === '/v1/models').length;
/** Past the readiness cache's 30 s. */
const later = (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000);

beforeEach(() => {
  dynamo.reset();
  sfn.reset();
  dynamo.on(DescribeTableCommand).resolves({ Table: { TableStatus: 'ACTIVE' } });
  sfn.on(DescribeStateMachineCommand).resolves({ status: 'ACTIVE' } as never);
  vi.useFakeTimers({ toFake: ['Date'] });
});

afterEach(() => vi.useRealTimers());
afterAll(() => server.close());

describe('GET /v1/health/ready with an OpenAI-compatible provider', () => {
  it('is ok while the provider lists the default model, asking it once per 30 s', async () => {
    const first = await call();
    expect(first.status).toBe(200);
    expect(modelCheck(first.body)).toEqual({ name: 'modelProvider', status: 'ok', detail: 'ready' });
    const asked = modelRequests();
    expect(asked).toBe(1);
    await call();
    await call();
    expect(modelRequests()).toBe(asked);
    later(31);
    await call();
    expect(modelRequests()).toBe(asked + 1);
  });

  it('503 with the check unavailable once the provider stops offering the model', async () => {
    // Each test's clock starts at the real time again: step past every answer cached before.
    later(100);
    server.models = ['another-model'];
    const res = await call();
    expect(res.status).toBe(503);
    expect(modelCheck(res.body)).toMatchObject({
      status: 'unavailable',
      detail: expect.stringContaining('the-model'),
    });
    server.models = ['the-model'];
  });

  it('503 when the provider is down', async () => {
    later(200);
    await server.close();
    const res = await call();
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('unavailable');
    expect(modelCheck(res.body)).toMatchObject({ status: 'unavailable' });
  });
});
