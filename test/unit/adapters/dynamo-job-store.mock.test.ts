import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoJobStore,
  JOB_SK,
  jobPk,
  jobStoreFromEnv,
  LIST_INDEX,
} from '../../../lambdas/adapters/dynamo-job-store.js';
import { ConfigError } from '../../../lambdas/config/env.js';
import { liveShard } from '../../../lambdas/config/table.js';
import { DomainError, NotFoundError, QuotaExceededError } from '../../../lambdas/domain/errors.js';
import type { Job } from '../../../lambdas/domain/job.js';
import { toTtl } from '../../../lambdas/domain/retention.js';
import { JOB_ID, makeJob, OTHER_TENANT, TABLE_NAME, TENANT, rejection } from '../support/fixtures.js';

const ddb = mockClient(DynamoDBDocumentClient);
const store = new DynamoJobStore(
  TABLE_NAME,
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
);
const NOW = new Date('2025-06-01T10:00:00.000Z');
const DAY = 86_400_000;

/** The stored item of a job, as the store writes it. */
function itemOf({ startedAt, ...job }: Job, extra: Record<string, unknown> = {}) {
  return {
    ...job,
    // Absent until the workflow starts the job, so MarkRunning's if_not_exists can set it.
    ...(startedAt === null ? {} : { startedAt }),
    PK: jobPk(job.tenant, job.id),
    SK: JOB_SK,
    GSI1PK: `T#${job.tenant}`,
    GSI1SK: `${job.createdAt}#${job.id}`,
    GSI2PK: liveShard(job.id),
    GSI2SK: `${job.createdAt}#${job.id}`,
    ttl: toTtl(job.expiresAt),
    fingerprint: 'fp-stored',
    completedSteps: 0,
    ...extra,
  };
}

/** How DynamoDB reports a failed condition: the old item in wire format, untouched by the document client. */
function conditionFailed(item?: Record<string, unknown>) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(item ? { Item: marshall(item, { removeUndefinedValues: true }) } : {}),
  });
}

beforeEach(() => {
  ddb.reset();
});

describe('create', () => {
  it("sends one transaction: the job's conditional put, its queue entry and the queued count", async () => {
    ddb.on(TransactWriteCommand).resolves({});
    const job = makeJob({ metadata: { team: 'a' } });

    const out = await store.create(job, 'fp-new', NOW, undefined, { maxQueuedJobs: 7 });

    expect(out).toEqual({ job, created: true, fingerprint: 'fp-new' });
    expect(ddb.calls()).toHaveLength(1);
    const [tx] = ddb.commandCalls(TransactWriteCommand);
    const [put, queue, count] = tx!.args[0].input.TransactItems!;
    expect(put?.Put).toEqual({
      TableName: TABLE_NAME,
      ConditionExpression: 'attribute_not_exists(PK)',
      Item: { ...itemOf(job, { fingerprint: 'fp-new' }), lastEventTypes: ['job.created'] },
    });
    expect(put?.Put?.Item).toMatchObject({
      PK: `T#${TENANT}#J#${JOB_ID}`,
      SK: 'JOB',
      GSI1PK: `T#${TENANT}`,
      GSI1SK: `2025-01-01T00:00:00.000Z#${JOB_ID}`,
      GSI2PK: expect.stringMatching(/^LIVE#[0-3]$/),
      GSI2SK: `2025-01-01T00:00:00.000Z#${JOB_ID}`,
      ttl: Date.UTC(2099, 0, 1) / 1000,
      completedSteps: 0,
      eventSeq: 1,
    });
    expect(queue?.Put?.Item).toMatchObject({ PK: `QUEUE#${TENANT}`, SK: JOB_ID, executionName: JOB_ID });
    expect(count?.Update).toMatchObject({
      Key: { PK: `SLOTS#${TENANT}`, SK: 'SLOTS' },
      ConditionExpression: 'attribute_not_exists(queued) OR queued < :max',
      ExpressionAttributeValues: expect.objectContaining({ ':max': 7 }),
    });
  });

  it('rethrows a refusal by the job item (an id clash is a bug) and any other error', async () => {
    const clash = Object.assign(new Error('cancelled'), {
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
    });
    ddb.on(TransactWriteCommand).rejectsOnce(clash);
    expect(await rejection(store.create(makeJob(), 'fp', NOW))).toBe(clash);

    const throttled = new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
    ddb.on(TransactWriteCommand).rejects(throttled);
    expect(await rejection(store.create(makeJob(), 'fp', NOW))).toBe(throttled);
  });

  it('answers a refusal by the queued count as quota_exceeded', async () => {
    ddb.on(TransactWriteCommand).rejects(
      Object.assign(new Error('cancelled'), {
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
      }),
    );
    const refused = await rejection(store.create(makeJob(), 'fp', NOW, undefined, { maxQueuedJobs: 3 }));
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect(refused).toMatchObject({ code: 'quota_exceeded', retryAfterSeconds: 60 });
  });
});

describe('get', () => {
  it('reads the tenant-scoped key consistently and strips internal attributes', async () => {
    const job = makeJob();
    ddb.on(GetCommand).resolves({ Item: itemOf(job) });

    expect(await store.get(TENANT, JOB_ID, NOW)).toEqual(job);
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE_NAME,
      Key: { PK: `T#${TENANT}#J#${JOB_ID}`, SK: 'JOB' },
      ConsistentRead: true,
    });
  });

  it('returns undefined for a missing or expired job', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({})
      .resolves({ Item: itemOf(makeJob({ expiresAt: NOW.toISOString() })) });
    expect(await store.get(TENANT, JOB_ID, NOW)).toBeUndefined();
    expect(await store.get(TENANT, JOB_ID, NOW)).toBeUndefined();
  });
});

describe('list', () => {
  const jobs = [3, 2, 1].map((n) =>
    makeJob({ id: `job_0000000000000000000000000${n}`, createdAt: `2025-01-0${n}T00:00:00.000Z` }),
  );

  it('queries the tenant partition of GSI1 newest first, hiding expired items', async () => {
    ddb.on(QueryCommand).resolves({ Items: jobs.map((j) => itemOf(j)) });

    const out = await store.list(TENANT, { limit: 20 }, NOW);

    expect(out).toEqual({ jobs, next: undefined });
    const calls = ddb.commandCalls(QueryCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      TableName: TABLE_NAME,
      IndexName: LIST_INDEX,
      KeyConditionExpression: 'GSI1PK = :pk',
      FilterExpression: 'expiresAt > :now',
      ExpressionAttributeNames: undefined,
      ExpressionAttributeValues: { ':pk': `T#${TENANT}`, ':now': NOW.toISOString() },
      ScanIndexForward: false,
      Limit: 20,
      ExclusiveStartKey: undefined,
    });
    expect(LIST_INDEX).toBe('GSI1');
  });

  it('adds a status filter', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await store.list(TENANT, { limit: 5, status: 'running' }, NOW);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      FilterExpression: 'expiresAt > :now AND #status = :status',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':pk': `T#${TENANT}`, ':status': 'running' },
    });
  });

  it('builds ExclusiveStartKey from the authenticated tenant and the position, never from anything else', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const after = { createdAt: '2025-01-02T00:00:00.000Z', id: 'job_00000000000000000000000002' };

    await store.list(OTHER_TENANT, { limit: 10, after }, NOW);

    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExclusiveStartKey).toEqual({
      GSI1PK: `T#${OTHER_TENANT}`,
      GSI1SK: `2025-01-02T00:00:00.000Z#${after.id}`,
      PK: `T#${OTHER_TENANT}#J#${after.id}`,
      SK: 'JOB',
    });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':pk': `T#${OTHER_TENANT}`,
    });
  });

  it('keeps reading index pages while the filter skips items, asking only for what is still missing', async () => {
    const lek1 = {
      GSI1PK: `T#${TENANT}`,
      GSI1SK: `${jobs[0]?.createdAt}#${jobs[0]?.id}`,
      PK: 'x',
      SK: 'JOB',
    };
    const lek2 = {
      GSI1PK: `T#${TENANT}`,
      GSI1SK: `${jobs[1]?.createdAt}#${jobs[1]?.id}`,
      PK: 'y',
      SK: 'JOB',
    };
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [itemOf(jobs[0] as Job)], LastEvaluatedKey: lek1 })
      .resolvesOnce({ Items: [itemOf(jobs[1] as Job)], LastEvaluatedKey: lek2 });

    const out = await store.list(TENANT, { limit: 2, status: 'pending' }, NOW);

    const calls = ddb.commandCalls(QueryCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input.Limit).toBe(2);
    expect(calls[1]?.args[0].input.Limit).toBe(1);
    expect(calls[1]?.args[0].input.ExclusiveStartKey).toEqual(lek1);
    expect(out.jobs).toEqual([jobs[0], jobs[1]]);
    expect(out.next).toEqual({ createdAt: jobs[1]?.createdAt, id: jobs[1]?.id });
  });

  it('stops after five index pages and hands back where it stopped', async () => {
    const lek = { GSI1PK: `T#${TENANT}`, GSI1SK: `2024-12-31T00:00:00.000Z#${JOB_ID}`, PK: 'x', SK: 'JOB' };
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: lek });

    const out = await store.list(TENANT, { limit: 10, status: 'failed' }, NOW);

    expect(ddb.commandCalls(QueryCommand)).toHaveLength(5);
    expect(out).toEqual({ jobs: [], next: { createdAt: '2024-12-31T00:00:00.000Z', id: JOB_ID } });
  });
});

describe('cancel', () => {
  it('is one conditional update from a live status that returns the new job', async () => {
    const cancelled = makeJob({ status: 'cancelled', completedAt: NOW.toISOString() });
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(cancelled) });

    expect(await store.cancel(TENANT, JOB_ID, NOW)).toEqual(cancelled);

    const calls = ddb.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input).toMatchObject({
      TableName: TABLE_NAME,
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' },
      ConditionExpression:
        'attribute_exists(PK) AND expiresAt > :now AND #status IN (:from0, :from1, :from2)',
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(input?.ExpressionAttributeValues).toEqual({
      ':from0': 'pending',
      ':from1': 'running',
      ':from2': 'input_required',
      ':cancelled': 'cancelled',
      ':at': NOW.toISOString(),
      ':exp': new Date(NOW.getTime() + 7 * DAY).toISOString(),
      ':ttl': toTtl(new Date(NOW.getTime() + 7 * DAY)),
      ':now': NOW.toISOString(),
      ':noEvents': 0,
      ':eventCount': 1,
      ':eventTypes': ['job.cancelled'],
    });
    expect(input?.UpdateExpression).toContain('#status = :cancelled');
    expect(input?.UpdateExpression).toContain('#ttl = :ttl');
  });

  it('returns an already cancelled job unchanged (idempotent)', async () => {
    const cancelled = makeJob({
      status: 'cancelled',
      completedAt: '2025-05-31T00:00:00.000Z',
      expiresAt: '2025-06-07T00:00:00.000Z',
    });
    ddb.on(UpdateCommand).rejects(conditionFailed(itemOf(cancelled)));
    expect(await store.cancel(TENANT, JOB_ID, NOW)).toEqual(cancelled);
    expect(ddb.calls()).toHaveLength(1);
  });

  it.each(['succeeded', 'failed'] as const)('refuses a %s job with job_terminal', async (status) => {
    ddb.on(UpdateCommand).rejects(conditionFailed(itemOf(makeJob({ status }))));
    const error = await rejection(store.cancel(TENANT, JOB_ID, NOW));
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('job_terminal');
  });

  it('answers not found for a missing or expired job', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed())
      .rejects(conditionFailed(itemOf(makeJob({ expiresAt: '2025-05-01T00:00:00.000Z' }))));
    expect(await rejection(store.cancel(TENANT, JOB_ID, NOW))).toBeInstanceOf(NotFoundError);
    expect(await rejection(store.cancel(TENANT, JOB_ID, NOW))).toBeInstanceOf(NotFoundError);
  });
});

describe('step writes', () => {
  const progress = { fraction: 0.5, step: 2, message: 'step 2 of 4' };

  it('checkpoint is conditional on running and on the previous step count', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(
      await store.checkpoint(TENANT, JOB_ID, { completedSteps: 2, progress, state: { asked: false } }, NOW),
    ).toBe(true);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' },
      ConditionExpression: '#status = :from0 AND completedSteps = :expected',
      ExpressionAttributeValues: {
        ':from0': 'running',
        ':expected': 1,
        ':steps': 2,
        ':progress': progress,
        ':state': { asked: false },
      },
    });
  });

  it('checkpoint and succeed return false when the condition fails, and rethrow anything else', async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(conditionFailed())
      .rejectsOnce(conditionFailed())
      .rejects(new Error('network'));
    expect(await store.checkpoint(TENANT, JOB_ID, { completedSteps: 1, progress, state: null }, NOW)).toBe(
      false,
    );
    expect(await store.succeed(TENANT, JOB_ID, { ok: true }, { completedSteps: 3, progress }, NOW)).toBe(
      false,
    );
    expect(
      (
        (await rejection(
          store.checkpoint(TENANT, JOB_ID, { completedSteps: 1, progress, state: null }, NOW),
        )) as Error
      ).message,
    ).toBe('network');
  });

  it('succeed stores the result and resets expiry to 7 days after completion', async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await store.succeed(TENANT, JOB_ID, { message: 'hi' }, { completedSteps: 3, progress }, NOW)).toBe(
      true,
    );
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      ConditionExpression: '#status = :from0 AND completedSteps = :expected',
      ExpressionAttributeNames: { '#status': 'status', '#result': 'result', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':from0': 'running',
        ':succeeded': 'succeeded',
        ':result': { message: 'hi' },
        ':expected': 2,
        ':steps': 3,
        ':at': NOW.toISOString(),
        ':exp': new Date(NOW.getTime() + 7 * DAY).toISOString(),
        ':ttl': toTtl(new Date(NOW.getTime() + 7 * DAY)),
      },
    });
    // Finished: out of the sparse live index the sweep reads.
    expect(input?.UpdateExpression).toMatch(
      /REMOVE #resultOther, agentState, agentStateRef, inputToken, answeredAt, GSI2PK, GSI2SK, lastEventData$/,
    );
  });

  it('fail moves a live job to failed with 30-day retention; false when already terminal', async () => {
    const error = { code: 'agent_error' as const, message: 'boom', retryable: false };
    ddb.on(UpdateCommand).resolvesOnce({}).rejects(conditionFailed());
    expect(await store.fail(TENANT, JOB_ID, error, NOW)).toBe(true);
    expect(await store.fail(TENANT, JOB_ID, error, NOW)).toBe(false);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      ConditionExpression: '#status IN (:from0, :from1, :from2)',
      ExpressionAttributeValues: {
        ':from0': 'pending',
        ':from1': 'running',
        ':from2': 'input_required',
        ':failed': 'failed',
        ':error': error,
        ':exp': new Date(NOW.getTime() + 30 * DAY).toISOString(),
      },
    });
  });

  it('loadForStep returns the job with its checkpoint', async () => {
    const job = makeJob({ status: 'running' });
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: itemOf(job, { completedSteps: 2, agentState: { asked: true }, answer: 'yes' }) })
      .resolves({});
    expect(await store.loadForStep(TENANT, JOB_ID)).toEqual({
      job,
      state: { asked: true },
      answer: 'yes',
      completedSteps: 2,
    });
    expect(await store.loadForStep(TENANT, JOB_ID)).toBeUndefined();
  });
});

describe('jobStoreFromEnv', () => {
  it('uses the configured table and retention days', async () => {
    ddb.on(UpdateCommand).resolves({});
    const configured = jobStoreFromEnv({
      JOBS_TABLE_NAME: 'configured-table',
      JOB_RETENTION_SUCCEEDED_DAYS: '2',
      JOB_RETENTION_FAILED_DAYS: '9',
    });
    const progress = { fraction: 1, step: 1, message: null };
    await configured.succeed(TENANT, JOB_ID, null, { completedSteps: 1, progress }, NOW);
    await configured.fail(TENANT, JOB_ID, { code: 'agent_error', message: 'x', retryable: false }, NOW);
    const [succeeded, failed] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(succeeded?.TableName).toBe('configured-table');
    expect(succeeded?.ExpressionAttributeValues?.[':exp']).toBe(
      new Date(NOW.getTime() + 2 * DAY).toISOString(),
    );
    expect(failed?.ExpressionAttributeValues?.[':exp']).toBe(new Date(NOW.getTime() + 9 * DAY).toISOString());
  });

  it('fails loudly without a table name or with bad retention days', () => {
    expect(() => jobStoreFromEnv({})).toThrow(ConfigError);
    expect(() => jobStoreFromEnv({ JOBS_TABLE_NAME: 't', JOB_RETENTION_FAILED_DAYS: '0' })).toThrow(
      ConfigError,
    );
    expect(() => jobStoreFromEnv({ JOBS_TABLE_NAME: 't', JOB_RETENTION_SUCCEEDED_DAYS: '1.5' })).toThrow(
      ConfigError,
    );
  });
});

describe('live index', () => {
  it('takes a job out of it on every terminal write (cancel, fail, succeed)', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(makeJob({ status: 'cancelled' })) });
    await store.cancel(TENANT, JOB_ID, NOW);
    await store.fail(TENANT, JOB_ID, { code: 'agent_error', message: 'x', retryable: false }, NOW);
    const progress = { fraction: 1, step: 1, message: null };
    await store.succeed(TENANT, JOB_ID, null, { completedSteps: 1, progress }, NOW);
    const expressions = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.UpdateExpression);
    expect(expressions).toHaveLength(3);
    for (const e of expressions) expect(e).toMatch(/REMOVE .*GSI2PK, GSI2SK/);
  });

  it('lists live jobs created before a time from every shard, with what the sweep needs', async () => {
    ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => ({
      Items:
        input.ExpressionAttributeValues[':shard'] === 'LIVE#2'
          ? [
              {
                PK: jobPk(TENANT, JOB_ID),
                SK: JOB_SK,
                GSI2PK: 'LIVE#2',
                GSI2SK: 'x',
                tenant: TENANT,
                id: JOB_ID,
                status: 'running',
                executionName: `${JOB_ID}-r2`,
                createdAt: '2025-01-01T00:00:00.000Z',
              },
            ]
          : [],
    }));
    const job = {
      tenant: TENANT,
      jobId: JOB_ID,
      pk: jobPk(TENANT, JOB_ID),
      status: 'running',
      executionName: `${JOB_ID}-r2`,
      createdAt: '2025-01-01T00:00:00.000Z',
    };
    const before = '2025-06-01T09:55:00.000Z';
    expect(await store.listLivePage(before, { shard: 1 }, 16)).toEqual({ jobs: [], next: { shard: 2 } });
    expect(await store.listLivePage(before, { shard: 2 }, 16)).toEqual({ jobs: [job], next: { shard: 3 } });
    expect(await store.listLivePage(before, { shard: 3 }, 16)).toEqual({ jobs: [], next: undefined });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input).toMatchObject({
      IndexName: 'GSI2',
      ExpressionAttributeValues: { ':shard': 'LIVE#2', ':before': before },
      Limit: 16,
    });
  });

  it('continues a shard from the key where the last page stopped', async () => {
    const after = { PK: 'p', SK: 'JOB', GSI2PK: 'LIVE#1', GSI2SK: 's' };
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: after });
    const page = await store.listLivePage('2025-06-01T09:55:00.000Z', { shard: 1, after }, 16);
    expect(page.next).toEqual({ shard: 1, after });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.ExclusiveStartKey).toEqual(after);
  });

  it('fails a job only while it is still on the given execution, when one is given', async () => {
    ddb.on(UpdateCommand).resolves({});
    const error = { code: 'execution_lost', message: 'x', retryable: true } as const;
    await store.fail(TENANT, JOB_ID, error, NOW, JOB_ID);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      ConditionExpression: expect.stringMatching(/AND executionName = :execution$/),
      ExpressionAttributeValues: { ':execution': JOB_ID },
    });
  });
});

describe('redrive', () => {
  it('moves a failed job back to pending as the next attempt under a new execution name, in one write', async () => {
    const failed = makeJob({ status: 'failed', attempt: 1, completedAt: NOW.toISOString() });
    ddb.on(GetCommand).resolves({ Item: itemOf(failed) });
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf({ ...failed, status: 'pending', attempt: 2 }) });
    const job = await store.redrive(TENANT, JOB_ID, NOW);
    expect(job).toMatchObject({ status: 'pending', attempt: 2 });
    const calls = ddb.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      ConditionExpression: '#status = :from0 AND attempt = :previous',
      ExpressionAttributeValues: {
        ':from0': 'failed',
        ':pending': 'pending',
        ':attempt': 2,
        ':previous': 1,
        ':execution': `${JOB_ID}-r2`,
        ':eventTypes': ['job.redriven'],
        ':shard': liveShard(JOB_ID),
      },
    });
    expect(calls[0]?.args[0].input.UpdateExpression).toMatch(/REMOVE startedAt, agentState/);
  });

  it.each(['succeeded', 'cancelled', 'running'] as const)(
    'refuses a %s job without writing',
    async (status) => {
      ddb.on(GetCommand).resolves({ Item: itemOf(makeJob({ status })) });
      await expect(store.redrive(TENANT, JOB_ID, NOW)).rejects.toMatchObject({ code: 'invalid_transition' });
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    },
  );
});
