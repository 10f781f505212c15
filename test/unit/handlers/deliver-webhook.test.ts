import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { generateWebhookSecret } from '../../../lambdas/adapters/webhook-secrets.js';
import { deliverySk } from '../../../lambdas/config/table.js';
import type { DeliveryRecord } from '../../../lambdas/domain/delivery.js';
import '../support/handler-env.js';
import { JOB_ID, TABLE_NAME, TENANT, WEBHOOK_DLQ_URL, WEBHOOK_QUEUE_URL } from '../support/fixtures.js';

// The receiver below is on loopback, which only a local deployment may call.
vi.stubEnv('AGENT_JOBS_DEPLOYMENT', 'local');
const { handler, LEASE_SECONDS } = await import('../../../lambdas/handlers/deliver-webhook.js');

const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const secretsManager = mockClient(SecretsManagerClient);
const SECRET = generateWebhookSecret();

let server: Server;
let url: string;
const answers: number[] = [];
const received: { headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answers.shift() ?? 200, { 'retry-after': '120' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const SEQ = 4;
const delivery = (over: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  tenant: TENANT,
  jobId: JOB_ID,
  seq: SEQ,
  id: `dlv_${SEQ}`,
  webhookId: `msg_${JOB_ID}_${SEQ}`,
  type: 'job.succeeded',
  url,
  body: '{"type":"job.succeeded","timestamp":"2025-01-01T00:00:00.000Z","data":{}}',
  status: 'pending',
  attempts: [],
  attemptCount: 0,
  nextAttemptAt: new Date(Date.now() - 1000).toISOString(),
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  round: 0,
  roundAttempts: 0,
  ...over,
});

function sqsEvent(body: unknown = { tenant: TENANT, jobId: JOB_ID, seq: SEQ, round: 0 }): SQSEvent {
  const record = {
    messageId: 'm-1',
    receiptHandle: 'rh-1',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  } as SQSRecord;
  return { Records: [record] };
}

const updates = () => ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
const hidden = () => sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input);

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  secretsManager.reset();
  answers.length = 0;
  received.length = 0;
  secretsManager
    .on(GetSecretValueCommand)
    .resolves({ SecretString: JSON.stringify({ current: SECRET, previous: [] }) });
  ddb.on(UpdateCommand).resolves({});
  sqs.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
});

describe('deliver-webhook handler', () => {
  it('claims a due delivery, POSTs it signed, records the success and lets the message go', async () => {
    ddb.on(GetCommand).resolves({ Item: delivery() });
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [] });

    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({
      TableName: TABLE_NAME,
      Key: { PK: jobPk(TENANT, JOB_ID), SK: deliverySk(SEQ) },
      ConsistentRead: true,
    });
    const [claim, record] = updates();
    expect(claim).toMatchObject({ ExpressionAttributeValues: { ':owner': 'm-1', ':n': 0, ':round': 0 } });
    expect(record).toMatchObject({
      ExpressionAttributeValues: {
        ':status': 'delivered',
        ':attempt': [{ httpStatus: 200, at: expect.any(String), durationMs: expect.any(Number) }],
      },
    });
    expect(received).toHaveLength(1);
    expect(
      new Webhook(SECRET).verify(received[0]!.body, received[0]!.headers as Record<string, string>),
    ).toEqual(JSON.parse(delivery().body));
    expect(received[0]!.headers['webhook-id']).toBe(delivery().webhookId);
    expect(hidden()).toEqual([]);
  });

  it('on a failed attempt records the next one and hides the message until then, Retry-After permitting', async () => {
    ddb.on(GetCommand).resolves({ Item: delivery() });
    answers.push(503);
    const before = Date.now();
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });

    const record = updates()[1]!;
    expect(record.ExpressionAttributeValues).toMatchObject({
      ':status': 'pending',
      ':attempt': [{ httpStatus: 503 }],
    });
    // Schedule 0,5,60: the next attempt was due in 5 s, but the receiver asked for 120.
    const due = Date.parse(record.ExpressionAttributeValues![':due'] as string);
    expect(due - before).toBeGreaterThanOrEqual(120_000);
    expect(hidden()).toEqual([
      { QueueUrl: WEBHOOK_QUEUE_URL, ReceiptHandle: 'rh-1', VisibilityTimeout: expect.any(Number) },
    ]);
    expect(hidden()[0]!.VisibilityTimeout).toBeGreaterThanOrEqual(120);
  });

  it('hides the message until the next attempt before recording it, so a record that never lands leaves it due on time', async () => {
    ddb.on(GetCommand).resolves({ Item: delivery() });
    // The claim lands; the record does not (the process stops, or the table is unreachable).
    ddb.on(UpdateCommand).resolvesOnce({}).rejects(new Error('connection reset'));
    answers.push(503);
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });

    expect(updates()).toHaveLength(2);
    // Due again after the retry delay (Retry-After 120 here), not after the queue's visibility timeout.
    expect(hidden()).toEqual([
      { QueueUrl: WEBHOOK_QUEUE_URL, ReceiptHandle: 'rh-1', VisibilityTimeout: 120 },
    ]);
  });

  it('after the last attempt of the schedule marks it failed and dead-letters it', async () => {
    ddb.on(GetCommand).resolves({ Item: delivery({ roundAttempts: 2 }) });
    answers.push(500);
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [] });
    const dead = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(dead.QueueUrl).toBe(WEBHOOK_DLQ_URL);
    expect(JSON.parse(dead.MessageBody!)).toMatchObject({
      tenant: TENANT,
      jobId: JOB_ID,
      deliveryId: `dlv_${SEQ}`,
      attempt: { httpStatus: 500 },
    });
    expect(updates()[1]!.ExpressionAttributeValues).toMatchObject({ ':status': 'failed', ':n': 2 });
  });

  it('stops at 410 Gone without dead-lettering: the receiver asked for it', async () => {
    ddb.on(GetCommand).resolves({ Item: delivery() });
    answers.push(410);
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [] });
    expect(updates()[1]!.ExpressionAttributeValues).toMatchObject({ ':status': 'failed' });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('hides a message that came back before its delivery is due, without an attempt', async () => {
    const due = new Date(Date.now() + 3_600_000).toISOString();
    ddb.on(GetCommand).resolves({ Item: delivery({ nextAttemptAt: due }) });
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(hidden()[0]!.VisibilityTimeout).toBeGreaterThan(3590);
    expect(updates()).toEqual([]);
    expect(received).toEqual([]);
  });

  it('waits the schedule’s first delay before a round’s first attempt', async () => {
    vi.stubEnv('WEBHOOK_RETRY_SCHEDULE', '30,60');
    vi.resetModules();
    const delayed = (await import('../../../lambdas/handlers/deliver-webhook.js')).handler;
    vi.stubEnv('WEBHOOK_RETRY_SCHEDULE', '0,5,60');
    ddb.on(GetCommand).resolves({ Item: delivery({ nextAttemptAt: new Date().toISOString() }) });
    expect(await delayed(sqsEvent())).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(hidden()[0]!.VisibilityTimeout).toBeGreaterThan(25);
    expect(received).toEqual([]);
  });

  it('waits out another consumer’s lease instead of attempting twice', async () => {
    ddb.on(GetCommand).resolves({ Item: delivery() });
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('conditional'), { name: 'ConditionalCheckFailedException' }));
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(hidden()[0]!.VisibilityTimeout).toBe(LEASE_SECONDS);
    expect(received).toEqual([]);
  });

  it.each([
    ['owned by another message', delivery({ owner: 'm-other' })],
    ['already delivered', delivery({ status: 'delivered' })],
    ['replayed since (newer round)', delivery({ round: 1 })],
    ['expired with its job', undefined],
  ])('drops a leftover message for a delivery %s', async (_, item) => {
    ddb.on(GetCommand).resolves({ Item: item });
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [] });
    expect(updates()).toEqual([]);
    expect(received).toEqual([]);
  });

  it('drops a message that is not a delivery, and keeps one it could not handle', async () => {
    expect(await handler(sqsEvent('not json'))).toEqual({ batchItemFailures: [] });
    ddb.on(GetCommand).rejects(new Error('throttled'));
    expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
  });
});
