import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  expectProblem,
  headerOf,
  JOB_ID,
  lambdaContext,
  storedJob,
  TENANT,
} from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/cancel-job.js');
const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-06-01T10:00:00.000Z');

const cancel = (id: string, method: 'POST' | 'DELETE' = 'POST') =>
  handler(
    apiEvent({
      method,
      path: method === 'POST' ? `/v1/jobs/${id}/cancel` : `/v1/jobs/${id}`,
      pathParameters: { id },
    }),
    lambdaContext,
  );

const item = (overrides: Parameters<typeof storedJob>[0]) => storedJob(overrides);

const conditionFailed = (old?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(old ? { Item: marshall(old) } : {}),
  });

beforeEach(() => {
  ddb.reset();
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('POST /v1/jobs/{id}/cancel and DELETE /v1/jobs/{id}', () => {
  it.each(['POST', 'DELETE'] as const)('%s: 200 with the cancelled job, no Retry-After', async (method) => {
    const cancelled = item({
      status: 'cancelled',
      completedAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
    });
    ddb.on(UpdateCommand).resolves({ Attributes: cancelled });

    const res = await cancel(JOB_ID, method);

    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({ id: JOB_ID, status: 'cancelled', completedAt: NOW.toISOString() });
    expect(bodyOf(res)).not.toHaveProperty('PK');
    expect(headerOf(res, 'retry-after')).toBeUndefined();
    const calls = ddb.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      Key: { PK: `T#${TENANT}#J#${JOB_ID}`, SK: 'JOB' },
      ExpressionAttributeValues: { ':cancelled': 'cancelled', ':at': NOW.toISOString() },
    });
  });

  it('200 again for an already cancelled job (idempotent)', async () => {
    const earlier = '2025-06-01T09:00:00.000Z';
    ddb
      .on(UpdateCommand)
      .rejects(
        conditionFailed(
          item({ status: 'cancelled', completedAt: earlier, expiresAt: '2025-06-08T09:00:00.000Z' }),
        ),
      );

    const res = await cancel(JOB_ID);

    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({ status: 'cancelled', completedAt: earlier });
  });

  it.each(['succeeded', 'failed'] as const)('409 job_terminal for a %s job', async (status) => {
    ddb.on(UpdateCommand).rejects(conditionFailed(item({ status, completedAt: NOW.toISOString() })));
    const body = expectProblem(await cancel(JOB_ID), 409, 'job_terminal');
    expect(body.detail).toContain(status);
  });

  it('404 for an unknown job', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    expectProblem(await cancel(JOB_ID), 404, 'not_found');
  });

  it('404 for an expired job', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(conditionFailed(item({ status: 'succeeded', expiresAt: '2025-05-01T00:00:00.000Z' })));
    expectProblem(await cancel(JOB_ID), 404, 'not_found');
  });

  it('400 for a malformed id, without writing', async () => {
    expectProblem(await cancel('job_123'), 400, 'validation_failed');
    expect(ddb.calls()).toHaveLength(0);
  });
});
