import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SendTaskSuccessCommand,
  TaskTimedOut,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { JobStatus } from '../../../lambdas/domain/job.js';
import '../support/handler-env.js';
import { JOB_ID, TENANT, WEBHOOK_QUEUE_URL } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/sweep-jobs.js');
const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
const NOW = new Date('2025-06-01T10:00:00.000Z');
const CURSOR_KEY = { PK: 'SWEEP', SK: 'CURSOR' };
const DELIVERY_CURSOR_KEY = { PK: 'SWEEP', SK: 'DELIVERIES' };
/** The last cursor the sweep saved under `key`. */
const savedCursor = (key: { SK: string }) =>
  ddb
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input.Item)
    .filter((item) => item?.SK === key.SK)
    .at(-1);
/** A Lambda context with no time to spare beyond the sweep's reserve: one page per run. */
const noSpareTime = { getRemainingTimeInMillis: () => 20_000 };

/** The job item's answered wait, as the sweep reads it. */
function answered(answeredAt: string) {
  ddb.on(GetCommand, { Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' } }).resolves({
    Item: { status: 'running', inputToken: 'token-1', answeredAt },
  });
}

/** The live index holds this one job (in the first shard; the others are empty). */
function live(status: JobStatus) {
  const item = {
    PK: jobPk(TENANT, JOB_ID),
    tenant: TENANT,
    id: JOB_ID,
    status,
    executionName: JOB_ID,
    createdAt: '2025-06-01T09:00:00.000Z',
  };
  ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => ({
    Items: input.ExpressionAttributeValues[':shard'] === 'LIVE#0' ? [item] : [],
  }));
}

const SLOTS_KEY = { PK: `SLOTS#${TENANT}`, SK: 'SLOTS' };

/** The tenant's slots item: these jobs hold slots (admitted), none is queued. */
function holdSlots(...ids: string[]) {
  const holders = Object.fromEntries(
    ids.map((id) => [id, { at: NOW.getTime() - 60_000, until: NOW.getTime() + 1e6 }]),
  );
  ddb.on(GetCommand, { Key: SLOTS_KEY }).resolves({ Item: { running: ids.length, queued: 0, holders } });
}

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  sqs.reset();
  ddb.on(UpdateCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(GetCommand).resolves({});
  ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({});
  ddb.on(GetCommand, { Key: DELIVERY_CURSOR_KEY }).resolves({});
  sqs.on(SendMessageCommand).resolves({});
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: NOW });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('job sweep', () => {
  it('repairs every job it can when one repair fails, then fails the run so the alarm fires', async () => {
    const item = (id: string) => ({
      PK: jobPk(TENANT, id),
      tenant: TENANT,
      id,
      status: 'pending',
      executionName: id,
      createdAt: '2025-06-01T09:00:00.000Z',
    });
    const other = 'job_0000000000000000000000000b';
    ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => ({
      Items: input.ExpressionAttributeValues[':shard'] === 'LIVE#0' ? [item(JOB_ID), item(other)] : [],
    }));
    holdSlots(JOB_ID, other);
    sfn.on(StartExecutionCommand, { name: JOB_ID }).rejects(new Error('throttled'));
    await expect(handler()).rejects.toThrow('1 sweep repair(s) failed');
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([JOB_ID, other]);
  });

  it('gives an overdue webhook delivery a new queue message, once it is released from its lost one', async () => {
    const due = '2025-06-01T09:00:00.000Z';
    ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => ({
      Items:
        input.ExpressionAttributeValues[':shard'] === 'DLV#2'
          ? [{ PK: jobPk(TENANT, JOB_ID), SK: 'D#0000000004', tenant: TENANT, GSI2SK: due }]
          : [],
    }));
    ddb.on(GetCommand, { Key: { PK: jobPk(TENANT, JOB_ID), SK: 'D#0000000004' } }).resolves({
      Item: {
        tenant: TENANT,
        jobId: JOB_ID,
        seq: 4,
        round: 1,
        status: 'pending',
        nextAttemptAt: due,
        owner: 'lost',
      },
    });
    expect(await handler()).toEqual({
      started: 0,
      failed: 0,
      healthy: 0,
      resumed: 0,
      requeued: 0,
      releasedSlots: 0,
      admitted: 0,
      requeuedDeliveries: 1,
      complete: true,
    });
    const release = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(release).toMatchObject({
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'D#0000000004' },
      UpdateExpression: 'REMOVE #owner',
      ExpressionAttributeValues: { ':due': due, ':round': 1 },
    });
    const sent = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(sent.QueueUrl).toBe(WEBHOOK_QUEUE_URL);
    expect(JSON.parse(sent.MessageBody!)).toEqual({ tenant: TENANT, jobId: JOB_ID, seq: 4, round: 1 });
  });

  it('queries every shard of the live index for jobs older than the minimum age', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await handler()).toEqual({
      started: 0,
      failed: 0,
      healthy: 0,
      resumed: 0,
      requeued: 0,
      releasedSlots: 0,
      admitted: 0,
      requeuedDeliveries: 0,
      complete: true,
    });
    const queries = ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((q) => q.ExpressionAttributeValues?.[':shard'] !== undefined);
    expect(queries.map((q) => q.ExpressionAttributeValues?.[':shard']).sort()).toEqual([
      'DLV#0',
      'DLV#1',
      'DLV#2',
      'DLV#3',
      'LIVE#0',
      'LIVE#1',
      'LIVE#2',
      'LIVE#3',
    ]);
    expect(queries[0]).toMatchObject({
      IndexName: 'GSI2',
      KeyConditionExpression: 'GSI2PK = :shard AND GSI2SK < :before',
      ExpressionAttributeValues: { ':before': '2025-06-01T09:55:00.000Z' },
    });
  });

  it('starts the execution of a job stuck in pending while holding a slot, under its name', async () => {
    live('pending');
    holdSlots(JOB_ID);
    expect(await handler()).toEqual({
      started: 1,
      failed: 0,
      healthy: 0,
      resumed: 0,
      requeued: 0,
      releasedSlots: 0,
      admitted: 0,
      requeuedDeliveries: 0,
      complete: true,
    });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toMatchObject({
      name: JOB_ID,
      input: JSON.stringify({ tenant: TENANT, jobId: JOB_ID, pk: jobPk(TENANT, JOB_ID) }),
    });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('leaves a pending job alone whose execution is already running', async () => {
    live('pending');
    holdSlots(JOB_ID);
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await handler()).toEqual({
      started: 0,
      failed: 0,
      healthy: 1,
      resumed: 0,
      requeued: 0,
      releasedSlots: 0,
      admitted: 0,
      requeuedDeliveries: 0,
      complete: true,
    });
  });

  it.each(['running', 'input_required'] as const)(
    'leaves a %s job with a running execution alone',
    async (status) => {
      live(status);
      expect(await handler()).toEqual({
        started: 0,
        failed: 0,
        healthy: 1,
        resumed: 0,
        requeued: 0,
        releasedSlots: 0,
        admitted: 0,
        requeuedDeliveries: 0,
        complete: true,
      });
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    },
  );

  it.each([
    [
      'running',
      'an execution that ended',
      () => sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED' }),
    ],
    [
      'input_required',
      'no execution at all',
      () =>
        sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} })),
    ],
    [
      'pending',
      'a finished execution holding its name',
      () => {
        holdSlots(JOB_ID);
        sfn
          .on(StartExecutionCommand)
          .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
        sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' });
      },
    ],
  ] as const)('fails a %s job with %s as execution_lost, and dead-letters it', async (status, _, setup) => {
    live(status);
    setup();
    expect(await handler()).toEqual({
      started: 0,
      failed: 1,
      healthy: 0,
      resumed: 0,
      requeued: 0,
      releasedSlots: 0,
      admitted: 0,
      requeuedDeliveries: 0,
      complete: true,
    });
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      ConditionExpression: expect.stringContaining('executionName = :execution'),
      ExpressionAttributeValues: {
        ':error': { code: 'execution_lost', retryable: true },
        ':execution': JOB_ID,
      },
    });
    const body = JSON.parse(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? '');
    expect(body).toMatchObject({
      jobId: JOB_ID,
      swept: { status },
      markFailed: { error: { code: 'execution_lost' } },
    });
  });

  it('resumes a running job whose answer has sat on the item with its token for over a minute', async () => {
    live('running');
    answered('2025-06-01T09:58:59.000Z');
    sfn.on(SendTaskSuccessCommand).resolves({});
    expect(await handler()).toMatchObject({ resumed: 1, healthy: 0, failed: 0 });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe('token-1');
  });

  it('leaves a fresh answer to the stream, and a wait that already ended (resumed or timed out) alone', async () => {
    live('running');
    answered('2025-06-01T09:59:30.000Z');
    expect(await handler()).toMatchObject({ resumed: 0, healthy: 1 });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);

    answered('2025-06-01T09:50:00.000Z');
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'closed', $metadata: {} }));
    expect(await handler()).toMatchObject({ resumed: 0, healthy: 1, failed: 0 });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('reads one page per run when time is short, saves where it stopped and goes on from there next run', async () => {
    const page = (n: number) =>
      Array.from({ length: 16 }, (_, i) => ({
        PK: jobPk(TENANT, `${JOB_ID}${n}${i}`),
        tenant: TENANT,
        id: `${JOB_ID}${n}${i}`,
        status: 'running',
        executionName: `${JOB_ID}${n}${i}`,
        createdAt: '2025-06-01T09:00:00.000Z',
      }));
    const stop = { PK: 'p', SK: 'JOB', GSI2PK: 'LIVE#0', GSI2SK: 's' };
    ddb
      .on(QueryCommand)
      .callsFake(
        (input: { ExclusiveStartKey?: unknown; ExpressionAttributeValues: Record<string, string> }) => {
          if (!input.ExpressionAttributeValues[':shard']?.startsWith('LIVE#')) return { Items: [] };
          return input.ExclusiveStartKey ? { Items: page(2) } : { Items: page(1), LastEvaluatedKey: stop };
        },
      );

    expect(await handler(undefined, noSpareTime)).toMatchObject({ healthy: 16, complete: false });
    const saved = savedCursor(CURSOR_KEY);
    expect(saved).toEqual({ ...CURSOR_KEY, shard: 0, after: stop });

    ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({ Item: saved });
    expect(await handler(undefined, noSpareTime)).toMatchObject({ healthy: 16, complete: false });
    const liveQueries = ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((q) => String(q.ExpressionAttributeValues?.[':shard']).startsWith('LIVE#'));
    expect(liveQueries.map((q) => q.ExclusiveStartKey)).toEqual([undefined, stop]);
    expect(savedCursor(CURSOR_KEY)).toEqual({ ...CURSOR_KEY, shard: 1 });
  });

  it('reads one page of overdue deliveries per run when time is short, and goes on from there next run', async () => {
    const keys = (n: number) =>
      Array.from({ length: 16 }, (_, i) => ({
        PK: jobPk(TENANT, `${JOB_ID}${n}${i}`),
        SK: 'D#0000000002',
        tenant: TENANT,
      }));
    const stop = { PK: 'p', SK: 'D#0000000002', GSI2PK: 'DLV#0', GSI2SK: 's' };
    ddb
      .on(QueryCommand)
      .callsFake(
        (input: { ExclusiveStartKey?: unknown; ExpressionAttributeValues: Record<string, string> }) => {
          if (input.ExpressionAttributeValues[':shard'] !== 'DLV#0') return { Items: [] };
          return input.ExclusiveStartKey ? { Items: keys(2) } : { Items: keys(1), LastEvaluatedKey: stop };
        },
      );
    const deliveryReads = () =>
      ddb.commandCalls(GetCommand).filter((c) => String(c.args[0].input.Key?.SK).startsWith('D#')).length;

    expect(await handler(undefined, noSpareTime)).toMatchObject({ complete: false });
    expect(deliveryReads()).toBe(16);
    const saved = savedCursor(DELIVERY_CURSOR_KEY);
    expect(saved).toEqual({ ...DELIVERY_CURSOR_KEY, shard: 0, after: stop });

    ddb.on(GetCommand, { Key: DELIVERY_CURSOR_KEY }).resolves({ Item: saved });
    await handler(undefined, noSpareTime);
    expect(deliveryReads()).toBe(32);
    const deliveryQueries = ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input)
      .filter((q) => q.ExpressionAttributeValues?.[':shard'] === 'DLV#0');
    expect(deliveryQueries.map((q) => [q.ExclusiveStartKey, q.Limit])).toEqual([
      [undefined, 16],
      [stop, 16],
    ]);
    expect(savedCursor(DELIVERY_CURSOR_KEY)).toEqual({ ...DELIVERY_CURSOR_KEY, shard: 1 });
  });
  it('releases a slot whose holder has ended and admits the next queued job into it', async () => {
    const next = 'job_0000000000000000000000000n';
    ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => ({
      Items:
        input.ExpressionAttributeValues[':pk'] === 'SLOTS'
          ? [{ tenant: TENANT }]
          : input.ExpressionAttributeValues[':pk'] === `QUEUE#${TENANT}`
            ? [{ SK: next, executionName: next, timeoutSeconds: 60 }]
            : [],
    }));
    let holders: Record<string, unknown> = { [JOB_ID]: { at: 0, until: NOW.getTime() + 1e6 } };
    let queued = 1;
    ddb.on(GetCommand, { Key: SLOTS_KEY }).callsFake(() => ({
      Item: { running: Object.keys(holders).length, queued, holders },
    }));
    ddb.on(GetCommand, { Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' } }).resolves({
      Item: { status: 'succeeded', expiresAt: '2099-01-01T00:00:00.000Z' },
    });
    ddb.on(UpdateCommand, { Key: SLOTS_KEY }).callsFake(() => {
      holders = {};
      return {};
    });
    ddb.on(TransactWriteCommand).callsFake(() => {
      holders = { [next]: { at: 0, until: 1 } };
      queued = 0;
      return {};
    });

    expect(await handler()).toMatchObject({ releasedSlots: 1, admitted: 1 });
    expect(ddb.commandCalls(UpdateCommand, { Key: SLOTS_KEY })[0]?.args[0].input).toMatchObject({
      UpdateExpression: 'REMOVE holders.#job0 SET running = running - :n',
      ExpressionAttributeNames: { '#job0': JOB_ID },
    });
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([next]);
  });

  it('keeps the slot of a holder that still runs within its lease', async () => {
    ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => ({
      Items: input.ExpressionAttributeValues[':pk'] === 'SLOTS' ? [{ tenant: TENANT }] : [],
    }));
    holdSlots(JOB_ID);
    ddb.on(GetCommand, { Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' } }).resolves({
      Item: { status: 'running', expiresAt: '2099-01-01T00:00:00.000Z' },
    });
    expect(await handler()).toMatchObject({ releasedSlots: 0, admitted: 0 });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('leaves a queued pending job to wait for its slot, and queues again one that lost its entry', async () => {
    live('pending');
    ddb.on(GetCommand, { Key: { PK: `QUEUE#${TENANT}`, SK: JOB_ID } }).resolves({ Item: { SK: JOB_ID } });
    expect(await handler()).toMatchObject({ healthy: 1, started: 0, requeued: 0 });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);

    ddb.on(GetCommand, { Key: { PK: `QUEUE#${TENANT}`, SK: JOB_ID } }).resolves({});
    ddb.on(GetCommand, { Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' } }).resolves({
      Item: {
        id: JOB_ID,
        tenant: TENANT,
        status: 'pending',
        timeoutSeconds: 60,
        expiresAt: '2099-01-01T00:00:00.000Z',
      },
    });
    ddb.on(TransactWriteCommand).resolves({});
    expect(await handler()).toMatchObject({ requeued: 1 });
    const [enqueue] = ddb.commandCalls(TransactWriteCommand);
    expect(enqueue?.args[0].input.TransactItems?.[0]?.Put?.Item).toMatchObject({
      PK: `QUEUE#${TENANT}`,
      SK: JOB_ID,
      timeoutSeconds: 60,
    });
  });
});
