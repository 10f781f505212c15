import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import {
  EXECUTION_STATUS_CHANGE,
  type ExecutionStatusDetail,
  executionArn,
} from '../../../lambdas/config/workflow.js';
import '../support/handler-env.js';
import type { Job } from '../../../lambdas/domain/job.js';
import { JOB_DLQ_URL, JOB_ID, makeJob, STATE_MACHINE_ARN, TENANT } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/reconcile-execution.js');
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const INPUT = { tenant: TENANT, jobId: JOB_ID, pk: jobPk(TENANT, JOB_ID) };

function statusChange(
  status: string,
  over: Partial<ExecutionStatusDetail> = {},
): EventBridgeEvent<typeof EXECUTION_STATUS_CHANGE, ExecutionStatusDetail> {
  return {
    version: '0',
    id: 'ev-1',
    'detail-type': EXECUTION_STATUS_CHANGE,
    source: 'aws.states',
    account: '123456789012',
    time: '2025-06-01T10:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      executionArn: executionArn(STATE_MACHINE_ARN, JOB_ID),
      stateMachineArn: STATE_MACHINE_ARN,
      name: JOB_ID,
      status,
      input: JSON.stringify(INPUT),
      error: 'Operator',
      cause: 'stopped by hand',
      ...over,
    },
  };
}

const stored = (over: Partial<Job> = {}) =>
  ddb
    .on(GetCommand)
    .resolves({ Item: { ...makeJob({ status: 'running', ...over }), PK: INPUT.pk, SK: 'JOB' } });

const written = () => ddb.commandCalls(UpdateCommand)[0]?.args[0].input;

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  ddb.on(UpdateCommand).resolves({});
  stored();
  sqs.on(SendMessageCommand).resolves({});
});

describe('execution reconciler', () => {
  it.each([
    ['TIMED_OUT', 'job_timeout', false],
    ['ABORTED', 'execution_aborted', true],
    ['FAILED', 'internal_error', true],
  ] as const)('fails a live job whose execution ended %s with %s', async (status, code, retryable) => {
    expect(await handler(statusChange(status))).toEqual({ failed: true });
    expect(written()).toMatchObject({
      Key: { PK: INPUT.pk, SK: 'JOB' },
      ConditionExpression: expect.stringContaining('executionName = :execution'),
      ExpressionAttributeValues: {
        ':failed': 'failed',
        ':error': { code, retryable },
        ':execution': JOB_ID,
        ':eventTypes': ['job.failed'],
      },
    });
  });

  it("fails a job whose execution failed on Step Functions' payload limit as agent_error, not retryable", async () => {
    expect(await handler(statusChange('FAILED', { error: 'States.DataLimitExceeded' }))).toEqual({
      failed: true,
    });
    expect(written()?.ExpressionAttributeValues?.[':error']).toEqual({
      code: 'agent_error',
      message: expect.stringContaining('256 KB'),
      retryable: false,
    });
  });

  it('sends the job it failed to the job DLQ with the reason, in the workflow message shape', async () => {
    await handler(statusChange('ABORTED'));
    const sent = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.QueueUrl).toBe(JOB_DLQ_URL);
    expect(JSON.parse(sent[0]?.MessageBody ?? '')).toEqual({
      ...INPUT,
      failure: { Error: 'Operator', Cause: 'stopped by hand' },
      reconciled: { status: 'ABORTED', executionArn: executionArn(STATE_MACHINE_ARN, JOB_ID) },
      markFailed: {
        failed: true,
        jobId: JOB_ID,
        tenant: TENANT,
        error: { code: 'execution_aborted', message: expect.any(String) },
      },
    });
  });

  it.each(['failed', 'cancelled', 'succeeded'] as const)(
    'leaves a job that is already %s alone: no write, no DLQ message',
    async (status) => {
      stored({ status });
      expect(await handler(statusChange('ABORTED'))).toEqual({ failed: false });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
      expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    },
  );

  it('leaves a job alone that moved on to a newer execution (redriven)', async () => {
    stored({ executionName: `${JOB_ID}-r2` });
    expect(await handler(statusChange('ABORTED'))).toEqual({ failed: false });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('reports failed=false when the job settled between the read and the write', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    expect(await handler(statusChange('ABORTED'))).toEqual({ failed: false });
  });

  it.each([
    ['a status it does not reconcile', statusChange('SUCCEEDED')],
    ['an input that is not an execution input', statusChange('FAILED', { input: '{"x":1}' })],
    ['an input that is not JSON', statusChange('FAILED', { input: 'nope' })],
  ])('ignores %s', async (_, event) => {
    expect(await handler(event)).toEqual({ failed: false });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('sends to the DLQ before failing the job, so a retry after a failed send still finds it live', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('network'));
    await expect(handler(statusChange('TIMED_OUT'))).rejects.toThrow('network');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});
