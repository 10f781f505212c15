import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { marshall } from '@aws-sdk/util-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  expectProblem,
  JOB_ID,
  lambdaContext,
  OTHER_TENANT,
  storedJob,
  TENANT,
  WEBHOOK_QUEUE_URL,
} from '../support/fixtures.js';

const { handler: list } = await import('../../../lambdas/handlers/list-deliveries.js');
const { handler: replay } = await import('../../../lambdas/handlers/replay-delivery.js');
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);

const jobItem = storedJob({ status: 'succeeded' });
const stored = {
  PK: jobPk(TENANT, JOB_ID),
  SK: 'D#0000000004',
  GSI2PK: 'DLV#1',
  GSI2SK: '2025-01-01T00:00:05.000Z',
  ttl: 4_070_908_800,
  attemptCount: 1,
  tenant: TENANT,
  jobId: JOB_ID,
  seq: 4,
  id: 'dlv_4',
  webhookId: `msg_${JOB_ID}_4`,
  type: 'job.succeeded',
  url: 'https://hooks.example/x',
  body: '{"secret-free":"body"}',
  status: 'pending',
  attempts: [{ at: '2025-01-01T00:00:00.000Z', httpStatus: 500, durationMs: 12 }],
  nextAttemptAt: '2025-01-01T00:00:05.000Z',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  round: 0,
  roundAttempts: 1,
  owner: 'm-1',
};
const view = {
  id: 'dlv_4',
  webhookId: `msg_${JOB_ID}_4`,
  type: 'job.succeeded',
  url: 'https://hooks.example/x',
  status: 'pending',
  attempts: [{ at: '2025-01-01T00:00:00.000Z', httpStatus: 500, durationMs: 12 }],
  attemptCount: 1,
  nextAttemptAt: '2025-01-01T00:00:05.000Z',
};

const path = (suffix: string) => ({ path: `/v1/jobs/${JOB_ID}${suffix}` });

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  ddb.on(GetCommand).resolves({ Item: jobItem });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-2' });
});

describe('GET /v1/jobs/{id}/deliveries', () => {
  it("lists the job's deliveries with their attempts and nothing internal", async () => {
    ddb.on(QueryCommand).resolves({ Items: [stored] });
    const res = await list(
      apiEvent({ ...path('/deliveries'), pathParameters: { id: JOB_ID } }),
      lambdaContext,
    );
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({ items: [view] });
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toMatchObject({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': jobPk(TENANT, JOB_ID), ':prefix': 'D#' },
    });
  });

  it("answers 404 for another tenant's job without reading its deliveries", async () => {
    ddb.on(GetCommand).resolves({});
    const res = await list(
      apiEvent({ ...path('/deliveries'), pathParameters: { id: JOB_ID }, tenant: OTHER_TENANT }),
      lambdaContext,
    );
    expectProblem(res, 404, 'not_found');
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input.Key).toEqual({
      PK: jobPk(OTHER_TENANT, JOB_ID),
      SK: 'JOB',
    });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });
});

describe('POST /v1/jobs/{id}/deliveries/{deliveryId}/replay', () => {
  const event = (deliveryId: string, tenant = TENANT) =>
    apiEvent({
      method: 'POST',
      ...path(`/deliveries/${deliveryId}/replay`),
      pathParameters: { id: JOB_ID, deliveryId },
      tenant,
    });

  it('starts a new round due now and queues it, answering 202 with the delivery', async () => {
    ddb.on(UpdateCommand).resolves({
      Attributes: {
        ...stored,
        round: 1,
        roundAttempts: 0,
        owner: undefined,
        nextAttemptAt: '2025-06-01T10:00:00.000Z',
      },
    });
    const res = await replay(event('dlv_4'), lambdaContext);
    expect(res.statusCode).toBe(202);
    expect(bodyOf(res)).toMatchObject({ id: 'dlv_4', webhookId: view.webhookId, status: 'pending' });
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'D#0000000004' },
      ConditionExpression: expect.stringMatching(/^attribute_exists\(SK\) AND /),
    });
    expect(sqs.commandCalls(SendMessageCommand)[0]!.args[0].input).toEqual({
      QueueUrl: WEBHOOK_QUEUE_URL,
      MessageBody: JSON.stringify({ tenant: TENANT, jobId: JOB_ID, seq: 4, round: 1 }),
    });
  });

  it('answers 429 rate_limited with Retry-After once the replays of the window are spent, and queues nothing', async () => {
    const spent = { ...stored, replayWindowStart: '2025-06-01T09:30:00.000Z', replaysInWindow: 5 };
    ddb
      .on(UpdateCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {}, Item: marshall(spent) }));
    vi.useFakeTimers({ now: new Date('2025-06-01T10:00:00.000Z'), toFake: ['Date'] });
    try {
      const res = await replay(event('dlv_4'), lambdaContext);
      expectProblem(res, 429, 'rate_limited');
      expect(res.headers?.['Retry-After']).toBe('1800');
    } finally {
      vi.useRealTimers();
    }
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 404 for a delivery the job does not have, and queues nothing', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    expectProblem(await replay(event('dlv_9'), lambdaContext), 404, 'not_found');
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('answers 400 for a malformed delivery id and 404 for a foreign job, changing nothing', async () => {
    expectProblem(await replay(event('dlv_0'), lambdaContext), 400, 'validation_failed');
    ddb.on(GetCommand).resolves({});
    expectProblem(await replay(event('dlv_4', OTHER_TENANT), lambdaContext), 404, 'not_found');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
});
