import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { invokeAsynchronously } from '../../../lambdas/local/async-invoke.js';

vi.mock('node:timers/promises', async (importOriginal) =>
  (await import('../support/timers-promises.js')).fakeable(
    await importOriginal<typeof import('node:timers/promises')>(),
  ),
);

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:Step';
const QUEUE_URL = 'http://sqs.local/000000000000/StepDlq';
const EVENT = { tenant: 't', jobId: 'job_1', taskToken: 'tok' };
const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);

const boom = () => Object.assign(new Error('out of memory'), { name: 'Runtime.OutOfMemory' });
const recorded = () =>
  sqsMock.commandCalls(SendMessageCommand).map((c) => ({
    queueUrl: c.args[0].input.QueueUrl,
    body: JSON.parse(c.args[0].input.MessageBody!) as Record<string, unknown>,
  }));

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({});
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('invokeAsynchronously', () => {
  it('records nothing when the invocation succeeds', async () => {
    const invoke = vi.fn().mockResolvedValue({});
    await invokeAsynchronously(invoke, { functionArn: FUNCTION_ARN, event: EVENT }, sqs);
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(recorded()).toEqual([]);
  });

  it('with no retries, sends Lambda’s invocation record to the on-failure queue', async () => {
    const invoke = vi.fn().mockRejectedValue(boom());
    const config = { maximumRetryAttempts: 0, onFailureQueueUrl: QUEUE_URL };

    await invokeAsynchronously(invoke, { functionArn: FUNCTION_ARN, event: EVENT, config }, sqs);

    expect(invoke).toHaveBeenCalledTimes(1);
    expect(recorded()).toEqual([
      {
        queueUrl: QUEUE_URL,
        body: {
          version: '1.0',
          timestamp: expect.any(String),
          requestContext: {
            requestId: expect.any(String),
            functionArn: `${FUNCTION_ARN}:$LATEST`,
            condition: 'RetriesExhausted',
            approximateInvokeCount: 1,
          },
          requestPayload: EVENT,
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: {
            errorType: 'Runtime.OutOfMemory',
            errorMessage: 'out of memory',
            trace: expect.any(Array),
          },
        },
      },
    ]);
  });

  it('retries as Lambda does by default (twice) before giving up', async () => {
    const invoke = vi
      .fn()
      .mockRejectedValueOnce(boom())
      .mockRejectedValueOnce(boom())
      .mockRejectedValue(boom());
    const run = invokeAsynchronously(
      invoke,
      { functionArn: FUNCTION_ARN, event: EVENT, config: { onFailureQueueUrl: QUEUE_URL } },
      sqs,
    );
    await vi.runAllTimersAsync();
    await run;
    expect(invoke).toHaveBeenCalledTimes(3);
    expect(recorded()[0]?.body.requestContext).toMatchObject({ approximateInvokeCount: 3 });
  });

  it('stops retrying once an attempt succeeds', async () => {
    const invoke = vi.fn().mockRejectedValueOnce(boom()).mockResolvedValue({});
    const run = invokeAsynchronously(
      invoke,
      {
        functionArn: FUNCTION_ARN,
        event: EVENT,
        config: { maximumRetryAttempts: 2, onFailureQueueUrl: QUEUE_URL },
      },
      sqs,
    );
    await vi.runAllTimersAsync();
    await run;
    expect(invoke).toHaveBeenCalledTimes(2);
    expect(recorded()).toEqual([]);
  });

  it('reports a failure it has nowhere to record, and never rejects', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(
      invokeAsynchronously(
        vi.fn().mockRejectedValue(boom()),
        { functionArn: FUNCTION_ARN, event: EVENT, config: { maximumRetryAttempts: 0 } },
        sqs,
      ),
    ).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledWith(expect.stringContaining(FUNCTION_ARN), expect.any(Error));
    sqsMock.on(SendMessageCommand).rejects(new Error('queue gone'));
    await expect(
      invokeAsynchronously(
        vi.fn().mockRejectedValue(boom()),
        {
          functionArn: FUNCTION_ARN,
          event: EVENT,
          config: { maximumRetryAttempts: 0, onFailureQueueUrl: QUEUE_URL },
        },
        sqs,
      ),
    ).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledTimes(2);
  });
});
