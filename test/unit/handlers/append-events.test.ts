import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { Job } from '../../../lambdas/domain/job.js';
import '../support/handler-env.js';
import { JOB_ID, makeJob, TABLE_NAME, TENANT, WEBHOOK_QUEUE_URL } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/append-events.js');
const ddb = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
const TTL = 4_070_908_800;

type Image = NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];
const image = (job: Job, lastEventTypes: string[], extra: Record<string, unknown> = {}) =>
  marshall(
    { ...job, PK: jobPk(job.tenant, job.id), SK: 'JOB', ttl: TTL, lastEventTypes, ...extra },
    { removeUndefinedValues: true },
  ) as Image;

let sequence = 0;
function record(next: Image, prev?: Image): DynamoDBRecord {
  sequence += 1;
  return {
    eventID: `ev-${sequence}`,
    eventName: prev ? 'MODIFY' : 'INSERT',
    dynamodb: {
      SequenceNumber: String(sequence),
      Keys: { PK: next?.PK as never, SK: next?.SK as never },
      NewImage: next,
      ...(prev ? { OldImage: prev } : {}),
    },
  };
}

const created = makeJob({ eventSeq: 1 });
const running = makeJob({ status: 'running', startedAt: '2025-01-01T00:00:01.000Z', eventSeq: 2 });
const succeeded = makeJob({
  status: 'succeeded',
  result: { message: 'hi' },
  progress: { fraction: 1, step: 1, message: 'step 1 of 1' },
  completedAt: '2025-01-01T00:00:02.000Z',
  updatedAt: '2025-01-01T00:00:02.000Z',
  eventSeq: 4,
});
const finish = () =>
  record(image(succeeded, ['job.progress', 'job.succeeded']), image(running, ['job.running']));

const putItems = () => ddb.commandCalls(PutCommand).map((c) => c.args[0].input);

beforeEach(() => {
  ddb.reset();
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  logAlready([1, 2]);
});

/**
 * The job's log as the table would answer for it: `seqs` from earlier records, plus every event
 * put (or refused as already there) since.
 */
function logAlready(seqs: number[]) {
  ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, unknown> }) => {
    if (!input.ExpressionAttributeValues[':events']) return { Items: [] };
    const put = putItems().filter((p) => String(p.Item?.SK).startsWith('E#'));
    return { Items: [...seqs.map((seq) => ({ seq, at: created.updatedAt })), ...put.map((p) => p.Item)] };
  });
}

describe('append-events stream consumer', () => {
  it('appends each event a write caused under E#<padded seq>, only if that seq is free', async () => {
    ddb.on(PutCommand).resolves({});
    const out = await handler({ Records: [record(image(created, ['job.created'])), finish()] });
    expect(out).toEqual({ batchItemFailures: [] });
    const puts = putItems();
    expect(puts.map((p) => p.Item?.SK)).toEqual(['E#0000000001', 'E#0000000003', 'E#0000000004']);
    expect(puts.map((p) => p.Item?.type)).toEqual(['job.created', 'job.progress', 'job.succeeded']);
    for (const put of puts) {
      expect(put).toMatchObject({
        TableName: TABLE_NAME,
        ConditionExpression: 'attribute_not_exists(SK)',
        Item: { PK: jobPk(TENANT, JOB_ID) },
      });
    }
    // A live job's events expire when the job would if it ended by its deadline; a terminal one's with it.
    const liveBound = Date.parse(created.updatedAt) / 1000 + created.timeoutSeconds + 3_600 + 7 * 86_400;
    expect(puts.map((p) => p.Item?.ttl)).toEqual([liveBound, TTL, TTL]);
    expect(puts[2]?.Item).toMatchObject({ seq: 4, at: succeeded.updatedAt, data: { status: 'succeeded' } });
  });

  it("gives the job's earlier event and delivery items with a shorter expiry the terminal write's", async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    const early = { PK: jobPk(TENANT, JOB_ID), SK: 'E#0000000001' };
    ddb
      .on(QueryCommand)
      .callsFake((input: { ExpressionAttributeValues: Record<string, unknown> }) =>
        input.ExpressionAttributeValues[':events']
          ? { Items: [1, 2, 3, 4].map((seq) => ({ seq, at: created.updatedAt })) }
          : { Items: [early] },
      );
    expect(await handler({ Records: [finish()] })).toEqual({ batchItemFailures: [] });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input).toMatchObject({
      KeyConditionExpression: 'PK = :pk AND SK < :job',
      FilterExpression: '#ttl < :ttl',
      ExpressionAttributeValues: { ':pk': jobPk(TENANT, JOB_ID), ':job': 'JOB', ':ttl': TTL },
    });
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ Key: early, ExpressionAttributeValues: { ':ttl': TTL } }),
    ]);
  });

  it('fills a seq lost with a batch given up on when the job ends, so its log has no hole', async () => {
    ddb.on(PutCommand).resolves({});
    logAlready([1]);
    expect(await handler({ Records: [finish()] })).toEqual({ batchItemFailures: [] });
    expect(putItems().map((p) => [p.Item?.seq, p.Item?.type])).toEqual([
      [3, 'job.progress'],
      [4, 'job.succeeded'],
      [2, 'job.progress'],
    ]);
    expect(putItems()[2]?.Item).toMatchObject({ at: succeeded.updatedAt, ttl: TTL, data: { step: 1 } });
  });

  it('extends nothing on a write that leaves the job live', async () => {
    ddb.on(PutCommand).resolves({});
    await handler({ Records: [record(image(created, ['job.created']))] });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it('treats a redelivered record as done: the taken seqs are not an error and nothing is written twice', async () => {
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'taken', $metadata: {} }));
    const out = await handler({ Records: [finish(), finish()] });
    expect(out).toEqual({ batchItemFailures: [] });
  });

  it('finishes a write whose events were half appended before a crash, with no gap', async () => {
    ddb
      .on(PutCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'taken', $metadata: {} }))
      .resolves({});
    await handler({ Records: [finish()] });
    expect(putItems().map((p) => p.Item?.seq)).toEqual([3, 4]);
  });

  it('reports the first record that failed so the event source retries from it', async () => {
    const first = record(image(created, ['job.created']));
    const second = finish();
    ddb.on(PutCommand).resolvesOnce({}).rejects(new Error('throttled'));
    const out = await handler({ Records: [first, second] });
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: second.dynamodb?.SequenceNumber }] });
  });

  it("appends other jobs' events while one job's append fails, and reports the failed record", async () => {
    const other = makeJob({ id: 'job_0000000000000000000000000b', eventSeq: 1 });
    const failing = record(image(created, ['job.created']));
    const fine = record(image(other, ['job.created']));
    ddb.on(PutCommand).callsFake(async (input: { Item: { PK: string } }) => {
      if (input.Item.PK === jobPk(TENANT, JOB_ID)) throw new Error('throttled');
      return {};
    });
    const out = await handler({ Records: [failing, fine] });
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: failing.dynamodb?.SequenceNumber }] });
    expect(putItems().map((p) => p.Item?.PK)).toContain(jobPk(TENANT, other.id));
  });

  it('ignores items that are not jobs and jobs written before the event log', async () => {
    const key = marshall({ PK: 'K#abc', SK: 'KEY', tenant: TENANT }) as Image;
    const legacy = marshall(
      { ...created, PK: jobPk(TENANT, JOB_ID), SK: 'JOB', eventSeq: undefined },
      {
        removeUndefinedValues: true,
      },
    ) as Image;
    const out = await handler({ Records: [record(key), record(legacy)] });
    expect(out).toEqual({ batchItemFailures: [] });
    expect(putItems()).toEqual([]);
  });

  describe('as the webhook notifier', () => {
    const hooked = (job: Job) => ({ ...job, webhook: { url: 'https://hooks.example/x' } });
    const finishHooked = () =>
      record(
        image(hooked(succeeded), ['job.progress', 'job.succeeded']),
        image(hooked(running), ['job.running']),
      );
    const deliveryPuts = () => putItems().filter((p) => String(p.Item?.SK).startsWith('D#'));
    const sent = () => sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);

    it('creates one delivery for the terminal event, not for progress, and queues it', async () => {
      ddb.on(PutCommand).resolves({});
      expect(await handler({ Records: [finishHooked()] })).toEqual({ batchItemFailures: [] });
      expect(deliveryPuts()).toEqual([
        expect.objectContaining({
          ConditionExpression: 'attribute_not_exists(SK)',
          Item: expect.objectContaining({
            PK: jobPk(TENANT, JOB_ID),
            SK: 'D#0000000004',
            id: 'dlv_4',
            type: 'job.succeeded',
            url: 'https://hooks.example/x',
            status: 'pending',
            ttl: TTL,
          }),
        }),
      ]);
      const body = JSON.parse(deliveryPuts()[0]!.Item!.body as string);
      expect(body).toMatchObject({ type: 'job.succeeded', data: { id: JOB_ID, result: { message: 'hi' } } });
      expect(sent()).toEqual([
        {
          QueueUrl: WEBHOOK_QUEUE_URL,
          MessageBody: JSON.stringify({ tenant: TENANT, jobId: JOB_ID, seq: 4, round: 0 }),
        },
      ]);
    });

    it('queues nothing for a job without a webhook', async () => {
      ddb.on(PutCommand).resolves({});
      await handler({ Records: [finish()] });
      expect(deliveryPuts()).toEqual([]);
      expect(sent()).toEqual([]);
    });

    /** The refusal a delivery put meets when the delivery exists already, carrying the stored one. */
    const deliveryTaken = (existing: Record<string, unknown>) =>
      new ConditionalCheckFailedException({
        message: 'taken',
        $metadata: {},
        Item: marshall({
          PK: jobPk(TENANT, JOB_ID),
          SK: 'D#0000000004',
          tenant: TENANT,
          jobId: JOB_ID,
          seq: 4,
          ...existing,
        }),
      });

    it('on a redelivered record queues nothing for a delivery already attempted', async () => {
      ddb.on(PutCommand).callsFake(async (input: { Item: { SK: string } }) => {
        if (input.Item.SK.startsWith('E#')) return {};
        throw deliveryTaken({
          status: 'delivered',
          attempts: [{ at: 'x', httpStatus: 200, durationMs: 1 }],
          round: 0,
          owner: 'm-1',
        });
      });
      expect(await handler({ Records: [finishHooked()] })).toEqual({ batchItemFailures: [] });
      expect(sent()).toEqual([]);
    });

    it('on a redelivered record queues again a delivery never picked up (its first message may be lost)', async () => {
      ddb.on(PutCommand).callsFake(async (input: { Item: { SK: string } }) => {
        if (input.Item.SK.startsWith('E#')) return {};
        throw deliveryTaken({ status: 'pending', attempts: [], round: 0 });
      });
      await handler({ Records: [finishHooked()] });
      expect(sent()).toHaveLength(1);
    });

    it('reports the record when the delivery cannot be queued, so the retry queues it', async () => {
      ddb.on(PutCommand).resolves({});
      sqs.on(SendMessageCommand).rejects(new Error('sqs down'));
      const r = finishHooked();
      expect(await handler({ Records: [r] })).toEqual({
        batchItemFailures: [{ itemIdentifier: r.dynamodb?.SequenceNumber }],
      });
    });
  });
});
