import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { MarkFailedEvent } from '../../../lambdas/config/workflow.js';
import '../support/handler-env.js';
import { JOB_ID, TABLE_NAME, TENANT } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/mark-failed.js');
const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-06-01T10:00:00.000Z');
const BASE = { tenant: TENANT, jobId: JOB_ID, pk: jobPk(TENANT, JOB_ID) };

const written = () => ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
const writtenError = () => written()?.ExpressionAttributeValues?.[':error'];

beforeEach(() => {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({});
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('mark failed', () => {
  it("records a step's data over Step Functions' payload limit as agent_error, not retryable", async () => {
    const result = await handler({ ...BASE, failure: { Error: 'States.DataLimitExceeded', Cause: 'x' } });
    expect(result.error.code).toBe('agent_error');
    expect(writtenError()).toEqual({
      code: 'agent_error',
      message: expect.stringContaining('256 KB'),
      retryable: false,
    });
  });

  it('keeps a step error within the contract: an unknown code becomes agent_error, a long message is cut', async () => {
    const step = {
      outcome: 'failed' as const,
      error: { code: 'made_up' as never, message: 'm'.repeat(5_000) },
    };
    await handler({ ...BASE, step });
    expect(writtenError()).toEqual({ code: 'agent_error', message: 'm'.repeat(1_000), retryable: false });
  });

  it("passes the step's own error through, not retryable", async () => {
    const event: MarkFailedEvent = {
      ...BASE,
      step: { outcome: 'failed', error: { code: 'agent_error', message: 'echo failed at step 2 as asked' } },
    };

    expect(await handler(event)).toEqual({
      failed: true,
      jobId: JOB_ID,
      tenant: TENANT,
      error: { code: 'agent_error', message: 'echo failed at step 2 as asked' },
    });
    expect(written()).toMatchObject({
      TableName: TABLE_NAME,
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' },
      ConditionExpression: '#status IN (:from0, :from1, :from2)',
      ExpressionAttributeValues: {
        ':failed': 'failed',
        ':error': { code: 'agent_error', message: 'echo failed at step 2 as asked', retryable: false },
        ':at': NOW.toISOString(),
        ':exp': new Date(NOW.getTime() + 30 * 86_400_000).toISOString(),
      },
    });
  });

  it('does not touch progress, so a failed job keeps the step it reached', async () => {
    await handler({ ...BASE, step: { outcome: 'failed', error: { code: 'agent_error', message: 'x' } } });
    expect(written()?.UpdateExpression).not.toMatch(/progress|completedSteps/);
  });

  it.each(['step_timeout', 'job_timeout', 'input_timeout'] as const)(
    'passes %s from the step through',
    async (code) => {
      const out = await handler({ ...BASE, step: { outcome: 'failed', error: { code, message: 'late' } } });
      expect(out.error).toEqual({ code, message: 'late' });
      expect(writtenError()).toEqual({
        code,
        message: 'late',
        retryable: false,
      });
    },
  );

  it.each([['States.Timeout'], ['Sandbox.Timedout']])('maps a caught %s to step_timeout', async (name) => {
    const out = await handler({
      ...BASE,
      failure: { Error: name, Cause: 'Task timed out after 30.00 seconds' },
    });
    expect(out.error.code).toBe('step_timeout');
    expect(out.error.message).not.toContain('30.00');
  });

  it('maps a caught States.HeartbeatTimeout to step_timeout, saying the heartbeats stopped', async () => {
    const out = await handler({ ...BASE, failure: { Error: 'States.HeartbeatTimeout' } });
    expect(out.error).toEqual({ code: 'step_timeout', message: 'an agent step stopped sending heartbeats' });
  });

  it('maps exhausted TransientStepError retries to model_unavailable, retryable', async () => {
    const out = await handler({
      ...BASE,
      failure: { Error: 'TransientStepError', Cause: '{"errorMessage":"503"}' },
    });
    expect(out.error.code).toBe('model_unavailable');
    expect(writtenError()).toMatchObject({
      retryable: true,
    });
  });

  it.each([['States.TaskFailed'], ['Lambda.ServiceException'], ['SomethingNew']])(
    'maps an unknown %s to internal_error without leaking the cause',
    async (name) => {
      const out = await handler({
        ...BASE,
        failure: { Error: name, Cause: 'at Object.<anonymous> (/var/task/index.js:1:1)' },
      });
      expect(out.error.code).toBe('internal_error');
      expect(out.error.message).not.toContain('/var/task');
      expect(writtenError()).toMatchObject({
        code: 'internal_error',
        retryable: true,
      });
    },
  );

  it('treats an event with neither step nor failure as internal_error', async () => {
    expect((await handler({ ...BASE })).error.code).toBe('internal_error');
  });

  it('failed=false when the job was already terminal', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    const out = await handler({ ...BASE, failure: { Error: 'States.Timeout' } });
    expect(out).toEqual({
      failed: false,
      jobId: JOB_ID,
      tenant: TENANT,
      error: { code: 'step_timeout', message: expect.any(String) },
    });
  });

  it('lets other store errors fail the task', async () => {
    ddb.on(UpdateCommand).rejects(new Error('throttled'));
    await expect(handler({ ...BASE, failure: { Error: 'States.Timeout' } })).rejects.toThrow('throttled');
  });
});
