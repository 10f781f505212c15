import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  headerOf,
  lambdaContext,
  STATE_MACHINE_ARN,
  TABLE_NAME,
} from '../support/fixtures.js';

const ready = (await import('../../../lambdas/handlers/health-ready.js')).handler;
const live = (await import('../../../lambdas/handlers/health-live.js')).handler;
const dynamo = mockClient(DynamoDBClient);
const sfn = mockClient(SFNClient);

const call = (handler: typeof ready) =>
  handler(apiEvent({ path: '/v1/health/ready', tenant: null }), lambdaContext);

beforeEach(() => {
  dynamo.reset();
  sfn.reset();
  dynamo.on(DescribeTableCommand).resolves({ Table: { TableStatus: 'ACTIVE' } });
  sfn.on(DescribeStateMachineCommand).resolves({ status: 'ACTIVE' } as never);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('GET /v1/health/live', () => {
  it('200 ok without touching dependencies', async () => {
    const res = await call(live);
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({ status: 'ok' });
    expect(dynamo.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });
});

describe('GET /v1/health/ready', () => {
  it('200 when the table and the state machine are ACTIVE', async () => {
    const res = await call(ready);

    expect(res.statusCode).toBe(200);
    expect(headerOf(res, 'content-type')).toBe('application/json');
    expect(bodyOf(res)).toEqual({
      status: 'ok',
      checks: [
        { name: 'table', status: 'ok', detail: 'ready' },
        { name: 'stateMachine', status: 'ok', detail: 'ready' },
        // No provider is configured here: reported, and not a reason to fail readiness.
        { name: 'modelProvider', status: 'not_configured', detail: 'no model provider is configured' },
      ],
    });
    expect(dynamo.commandCalls(DescribeTableCommand)[0]?.args[0].input).toEqual({ TableName: TABLE_NAME });
    expect(sfn.commandCalls(DescribeStateMachineCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
    });
  });

  it('503 naming the table when it is not ACTIVE', async () => {
    dynamo.on(DescribeTableCommand).resolves({ Table: { TableStatus: 'UPDATING' } });
    const res = await call(ready);
    expect(res.statusCode).toBe(503);
    expect(bodyOf(res)).toMatchObject({
      status: 'unavailable',
      checks: [
        { name: 'table', status: 'unavailable', detail: 'not active' },
        { name: 'stateMachine', status: 'ok' },
        { name: 'modelProvider', status: 'not_configured' },
      ],
    });
  });

  it('503 naming the state machine when describing it fails', async () => {
    sfn
      .on(DescribeStateMachineCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const res = await call(ready);
    expect(res.statusCode).toBe(503);
    expect(bodyOf(res)).toMatchObject({
      status: 'unavailable',
      checks: [
        { name: 'table', status: 'ok' },
        { name: 'stateMachine', status: 'unavailable', detail: 'AccessDeniedException' },
        { name: 'modelProvider', status: 'not_configured' },
      ],
    });
  });

  it('503 when the state machine is being deleted', async () => {
    sfn.on(DescribeStateMachineCommand).resolves({ status: 'DELETING' } as never);
    expect((await call(ready)).statusCode).toBe(503);
  });

  it('503 when a check hangs past its 2 s budget', async () => {
    vi.useFakeTimers();
    dynamo.on(DescribeTableCommand).callsFake(() => new Promise(() => undefined));
    const res = call(ready);
    await vi.advanceTimersByTimeAsync(2_000);
    const out = await res;
    expect(out.statusCode).toBe(503);
    expect((bodyOf(out).checks as unknown[])[0]).toEqual({
      name: 'table',
      status: 'unavailable',
      detail: 'Error',
    });
  });
});
