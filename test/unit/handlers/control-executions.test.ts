import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { Job } from '../../../lambdas/domain/job.js';
import '../support/handler-env.js';
import { JOB_ID, makeJob, OTHER_TENANT, STATE_MACHINE_ARN, TENANT } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/control-executions.js');
const sfn = mockClient(SFNClient);
const ddb = mockClient(DynamoDBDocumentClient);
const EXECUTION_ARN = 'arn:aws:states:eu-west-1:123456789012:execution:agent-jobs:';

const image = (job: Job, extra: Record<string, unknown> = {}) =>
  marshall(
    {
      ...job,
      PK: jobPk(job.tenant, job.id),
      SK: 'JOB',
      ttl: 1,
      fingerprint: 'fp',
      completedSteps: 0,
      ...extra,
    },
    { removeUndefinedValues: true },
  ) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'];

let seq = 100;
function record(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  next: Job | undefined,
  prev?: Job,
  extra: Record<string, unknown> = {},
): DynamoDBRecord {
  seq += 1;
  return {
    eventID: `ev-${seq}`,
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      SequenceNumber: String(seq),
      Keys: marshall({ PK: jobPk((next ?? prev)!.tenant, (next ?? prev)!.id), SK: 'JOB' }) as NonNullable<
        DynamoDBRecord['dynamodb']
      >['Keys'],
      ...(next ? { NewImage: image(next, extra) } : {}),
      ...(prev ? { OldImage: image(prev) } : {}),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const batch = (...records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });

/**
 * Each tenant's queue and slot holders as the table would hold them, kept by a small stand-in for
 * the slot items' writes (the writes themselves are tested on DynamoDB Local). `queue` and
 * `holders` are TENANT's; `others` holds any other tenant's.
 */
type Queue = Array<{ id: string; executionName: string }>;
type Holders = Record<string, { at: number; until: number }>;
let queue: Queue = [];
let holders: Holders = {};
const others = new Map<string, { queue: Queue; holders: Holders }>();
const queued = (...ids: string[]) => ids.map((id) => ({ id, executionName: id }));

/** The state of the tenant a slots or queue key (`SLOTS#t`, `QUEUE#t`) names. */
function stateOf(key: string): { queue: Queue; holders: Holders } {
  const tenant = key.slice(key.indexOf('#') + 1);
  if (tenant === TENANT) {
    return {
      get queue() {
        return queue;
      },
      set queue(q) {
        queue = q;
      },
      holders,
    };
  }
  if (!others.has(tenant)) others.set(tenant, { queue: [], holders: {} });
  return others.get(tenant)!;
}

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

type TransactItems = Array<
  Record<
    string,
    {
      Key?: { PK: string; SK: string };
      Item?: Record<string, string>;
      ConditionExpression?: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Record<string, unknown>;
    }
  >
>;

const slotsItem = ({ queue: q, holders: h }: { queue: Queue; holders: Holders }) => ({
  running: Object.keys(h).length,
  queued: q.length,
  holders: { ...h },
});

const cancelled = (codes: string[], slots?: Record<string, unknown>) =>
  Object.assign(new Error('cancelled'), {
    name: 'TransactionCanceledException',
    CancellationReasons: codes.map((Code, i) => ({
      Code,
      ...(i === 0 && slots ? { Item: marshall(slots) } : {}),
    })),
  });

function tableStandIn() {
  ddb.on(GetCommand).callsFake((input: { Key: { PK: string } }) => {
    if (!input.Key.PK.startsWith('SLOTS#')) return {};
    return { Item: slotsItem(stateOf(input.Key.PK)) };
  });
  ddb
    .on(QueryCommand)
    .callsFake((input: { Limit?: number; ExpressionAttributeValues: Record<string, string> }) => {
      const { queue: q } = stateOf(input.ExpressionAttributeValues[':pk']!);
      return {
        Items: q
          .slice(0, input.Limit ?? q.length)
          .map((e) => ({ SK: e.id, executionName: e.executionName, timeoutSeconds: 60 })),
      };
    });
  ddb.on(TransactWriteCommand).callsFake((input: { TransactItems: TransactItems }) => {
    const items = input.TransactItems;
    const slots = items.find((i) => i.Update)!.Update!;
    const state = stateOf(slots.Key!.PK);
    // An admission's conditions on the slots item: room for its jobs, and (whole queue) no other job queued.
    const values = slots.ExpressionAttributeValues ?? {};
    const condition = slots.ConditionExpression ?? '';
    const refused =
      (condition.includes('running <= :limit') &&
        Object.keys(state.holders).length > (values[':limit'] as number)) ||
      (condition.includes('queued = :n') && state.queue.length !== values[':n']);
    const gone = (id: string | undefined) => id !== undefined && !state.queue.some((q) => q.id === id);
    if (refused || items.some((i) => gone(i.Delete?.Key?.SK))) {
      const codes = items.map((i, n) =>
        (n === 0 && refused) || gone(i.Delete?.Key?.SK) ? 'ConditionalCheckFailed' : 'None',
      );
      throw cancelled(codes, refused ? slotsItem(state) : undefined);
    }
    const removed = items.flatMap((i) => (i.Delete?.Key ? [i.Delete.Key.SK] : []));
    state.queue = state.queue.filter((q) => !removed.includes(q.id));
    const added = items.find((i) => i.Put)?.Put?.Item;
    if (added) state.queue.push({ id: added.SK!, executionName: added.executionName! });
    // A slot per job an admission names (#job0, #job1...) with its lease; a queueing update names no lease.
    for (const [name, id] of Object.entries(slots.ExpressionAttributeNames ?? {})) {
      const lease = values[`:lease${name.slice('#job'.length)}`] as Holders[string] | undefined;
      if (name.startsWith('#job') && lease && removed.includes(id)) state.holders[id] = lease;
    }
    return {};
  });
  // A release names each slot it gives back (#job0, #job1...) and gives back none unless all are held.
  ddb
    .on(UpdateCommand)
    .callsFake((input: { Key: { PK: string }; ExpressionAttributeNames: Record<string, string> }) => {
      const { holders: h } = stateOf(input.Key.PK);
      const ids = Object.values(input.ExpressionAttributeNames);
      if (!ids.every((id) => h[id])) throw conditionFailed();
      for (const id of ids) delete h[id];
      return {};
    });
  ddb.on(PutCommand).resolves({});
}

beforeEach(() => {
  queue = queued(JOB_ID);
  holders = {};
  others.clear();
  ddb.reset();
  tableStandIn();
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
  sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
});

/** An answer: input_required (with the workflow's token, unless it has not stored one yet) -> running. */
function answered(token: string | undefined) {
  const rec = record('MODIFY', makeJob({ status: 'running' }), makeJob({ status: 'input_required' }));
  rec.dynamodb!.OldImage = image(makeJob({ status: 'input_required' }), token ? { inputToken: token } : {});
  return rec;
}

describe('job stream consumer: answers to input requests', () => {
  beforeEach(() => {
    sfn.on(SendTaskSuccessCommand).resolves({});
  });

  it('resumes the waiting task with the token the old image carries', async () => {
    expect(await handler(batch(answered('tok-1')))).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input)).toEqual([
      { taskToken: 'tok-1', output: '{}' },
    ]);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('does nothing when the answer came before the workflow stored its token', async () => {
    expect(await handler(batch(answered(undefined)))).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('treats a wait that already ended (timed out) as done, not as a failure to retry', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'timed out', $metadata: {} }));
    expect(await handler(batch(answered('tok-2')))).toEqual({ batchItemFailures: [] });
  });

  it('reports the record for a retry when Step Functions is unavailable', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new Error('network'));
    const rec = answered('tok-3');
    expect(await handler(batch(rec))).toEqual({
      batchItemFailures: [{ itemIdentifier: rec.dynamodb!.SequenceNumber }],
    });
  });
});

describe('job stream consumer', () => {
  it('starts the execution of a new pending job, named after it, with tenant, id and key', async () => {
    const job = makeJob();

    expect(await handler(batch(record('INSERT', job)))).toEqual({ batchItemFailures: [] });

    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(input?.name).toBe(job.executionName);
    expect(JSON.parse(input?.input as string)).toEqual({
      tenant: TENANT,
      jobId: JOB_ID,
      pk: `T#${TENANT}#J#${JOB_ID}`,
    });
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
  });

  it('treats an execution that already exists as success (redelivered record)', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await handler(batch(record('INSERT', makeJob())))).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('starts a new execution when an expired job is replaced under a new execution name', async () => {
    const old = makeJob({ status: 'succeeded' });
    const fresh = makeJob({ executionName: `${JOB_ID}-nabc` });
    queue = [];
    await handler(batch(record('MODIFY', fresh, old)));
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.name).toBe(`${JOB_ID}-nabc`);
  });

  it.each(['running', 'pending', 'input_required'] as const)(
    'stops the execution when a %s job is cancelled',
    async (from) => {
      const prev = makeJob({ status: from });
      const next = makeJob({ status: 'cancelled' });

      expect(await handler(batch(record('MODIFY', next, prev)))).toEqual({ batchItemFailures: [] });

      const calls = sfn.commandCalls(StopExecutionCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toMatchObject({
        executionArn: `${EXECUTION_ARN}${JOB_ID}`,
        error: 'JobCancelled',
      });
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    },
  );

  it('stops the execution under its own name when it was renamed', async () => {
    await handler(
      batch(
        record(
          'MODIFY',
          makeJob({ status: 'cancelled', executionName: `${JOB_ID}-nx` }),
          makeJob({ status: 'running', executionName: `${JOB_ID}-nx` }),
        ),
      ),
    );
    expect(sfn.commandCalls(StopExecutionCommand)[0]?.args[0].input.executionArn).toBe(
      `${EXECUTION_ARN}${JOB_ID}-nx`,
    );
  });

  it('tolerates stopping an execution that does not exist', async () => {
    sfn.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', $metadata: {} }));
    const out = await handler(
      batch(record('MODIFY', makeJob({ status: 'cancelled' }), makeJob({ status: 'pending' }))),
    );
    expect(out).toEqual({ batchItemFailures: [] });
  });

  it.each([
    ['pending -> running', makeJob({ status: 'running' }), makeJob({ status: 'pending' })],
    [
      'running -> running (checkpoint)',
      makeJob({ status: 'running', progress: { fraction: 0.5, step: 1, message: null } }),
      makeJob({ status: 'running' }),
    ],
    ['cancelled -> cancelled', makeJob({ status: 'cancelled' }), makeJob({ status: 'cancelled' })],
    ['pending -> pending, same execution', makeJob({ updatedAt: '2025-01-02T00:00:00.000Z' }), makeJob()],
  ])('does nothing for MODIFY %s', async (_name, next, prev) => {
    expect(await handler(batch(record('MODIFY', next, prev)))).toEqual({ batchItemFailures: [] });
    expect(sfn.calls()).toHaveLength(0);
  });

  it("a finished job gives its slot back and admits the tenant's next queued job", async () => {
    holders = { [JOB_ID]: { at: 1, until: 2 } };
    queue = queued('job_next');
    const done = record('MODIFY', makeJob({ status: 'succeeded' }), makeJob({ status: 'running' }));
    expect(await handler(batch(done))).toEqual({ batchItemFailures: [] });
    expect(Object.keys(holders)).toEqual(['job_next']);
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual(['job_next']);
    // Redelivered: nothing is released twice, nothing more admitted.
    expect(await handler(batch(done))).toEqual({ batchItemFailures: [] });
    expect(Object.keys(holders)).toEqual(['job_next']);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('a new job waits in the queue, with no execution, while its tenant has no free slot', async () => {
    holders = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`job_r${i}`, { at: 1, until: 2 }]));
    expect(await handler(batch(record('INSERT', makeJob())))).toEqual({ batchItemFailures: [] });
    expect(queue).toEqual(queued(JOB_ID));
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('a redriven job joins the queue again before it is admitted', async () => {
    queue = [];
    const redriven = makeJob({ status: 'pending', attempt: 2, executionName: `${JOB_ID}-2` });
    const rec = record('MODIFY', redriven, makeJob({ status: 'failed' }));
    expect(await handler(batch(rec))).toEqual({ batchItemFailures: [] });
    const [enqueue] = ddb.commandCalls(TransactWriteCommand);
    expect(enqueue?.args[0].input.TransactItems?.[0]?.Put?.Item).toMatchObject({
      PK: `QUEUE#${TENANT}`,
      SK: JOB_ID,
      executionName: `${JOB_ID}-2`,
    });
  });

  it('ignores REMOVE records (TTL deletions) and items that are not jobs', async () => {
    const key = makeJob();
    const rec = record('INSERT', key, undefined, { SK: 'KEY' });
    expect(await handler(batch(record('REMOVE', undefined, makeJob()), rec))).toEqual({
      batchItemFailures: [],
    });
    expect(sfn.calls()).toHaveLength(0);
  });

  it("reports the failing record's sequence number and stops there; the retry starts what it left", async () => {
    const ok = record(
      'INSERT',
      makeJob({ id: 'job_00000000000000000000000001', executionName: 'job_00000000000000000000000001' }),
    );
    const bad = record(
      'INSERT',
      makeJob({ id: 'job_00000000000000000000000002', executionName: 'job_00000000000000000000000002' }),
    );
    const after = record(
      'INSERT',
      makeJob({ id: 'job_00000000000000000000000003', executionName: 'job_00000000000000000000000003' }),
    );
    queue = queued(...[1, 2, 3].map((n) => `job_0000000000000000000000000${n}`));
    sfn.on(StartExecutionCommand, { name: 'job_00000000000000000000000002' }).rejects(new Error('throttled'));

    const out = await handler(batch(ok, bad, after));

    // The first record admits all three; the failed start fails that record, and the rest wait.
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: ok.dynamodb?.SequenceNumber }] });
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([
      'job_00000000000000000000000001',
      'job_00000000000000000000000002',
      'job_00000000000000000000000003',
    ]);
    // The retried records find their jobs admitted (holding slots) and start them again.
    sfn.reset();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    expect(await handler(batch(ok, bad, after))).toEqual({ batchItemFailures: [] });
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([
      'job_00000000000000000000000001',
      'job_00000000000000000000000002',
      'job_00000000000000000000000003',
    ]);
  });

  it('a failed stop is reported too', async () => {
    sfn.on(StopExecutionCommand).rejects(new Error('access denied'));
    const rec = record('MODIFY', makeJob({ status: 'cancelled' }), makeJob({ status: 'running' }));
    expect(await handler(batch(rec))).toEqual({
      batchItemFailures: [{ itemIdentifier: rec.dynamodb?.SequenceNumber }],
    });
  });
});

describe('job stream consumer: a batch of several tenants', () => {
  const job = (tenant: string, n: number, over: Partial<Job> = {}) =>
    makeJob({ tenant, id: `job_${tenant}_${n}`, executionName: `job_${tenant}_${n}`, ...over });
  const submitted = (tenant: string, n: number) => record('INSERT', job(tenant, n));
  const ended = (tenant: string, n: number) =>
    record('MODIFY', job(tenant, n, { status: 'succeeded' }), job(tenant, n, { status: 'running' }));
  const slotReads = (tenant: string) =>
    ddb.commandCalls(GetCommand).filter((c) => c.args[0].input.Key?.PK === `SLOTS#${tenant}`).length;
  const started = () => sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);

  it("runs one admission pass for all of a tenant's submits and ends in the batch, and releases each end once", async () => {
    queue = queued(...[1, 2, 3, 4, 5].map((n) => `job_${TENANT}_${n}`));
    holders = { [`job_${TENANT}_0`]: { at: 1, until: 2 }, [`job_${TENANT}_9`]: { at: 1, until: 2 } };
    const records = [submitted(TENANT, 1), ended(TENANT, 0), submitted(TENANT, 2), ended(TENANT, 9)];
    records.push(...[3, 4, 5].map((n) => submitted(TENANT, n)));

    expect(await handler(batch(...records))).toEqual({ batchItemFailures: [] });

    // One write gives back both slots; one pass: one read of the slots and, as the batch's five
    // jobs are the whole queue, no head query, then one transaction for the five.
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.ExpressionAttributeNames)).toEqual([
      { '#job0': `job_${TENANT}_0`, '#job1': `job_${TENANT}_9` },
    ]);
    expect(slotReads(TENANT)).toBe(1);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    expect(started()).toEqual([1, 2, 3, 4, 5].map((n) => `job_${TENANT}_${n}`));
    expect(Object.keys(holders).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `job_${TENANT}_${n}`));
  });

  it('gives back a run of ends in one write, before a redriven job of the run joins the queue again', async () => {
    holders = Object.fromEntries([1, 2, 3].map((n) => [`job_${TENANT}_${n}`, { at: 1, until: 2 }]));
    queue = [];
    const failed = record(
      'MODIFY',
      job(TENANT, 2, { status: 'failed' }),
      job(TENANT, 2, { status: 'running' }),
    );
    const redriven = record(
      'MODIFY',
      job(TENANT, 2, { status: 'pending', attempt: 2, executionName: `job_${TENANT}_2-2` }),
      job(TENANT, 2, { status: 'failed' }),
    );

    expect(await handler(batch(ended(TENANT, 1), failed, redriven, ended(TENANT, 3)))).toEqual({
      batchItemFailures: [],
    });

    const writes = ddb
      .calls()
      .map((c) => c.args[0])
      .filter((c) => c instanceof UpdateCommand || c instanceof TransactWriteCommand);
    expect(writes[0]?.input).toMatchObject({
      ExpressionAttributeNames: { '#job0': `job_${TENANT}_1`, '#job1': `job_${TENANT}_2` },
    });
    expect((writes[1] as TransactWriteCommand).input.TransactItems?.[0]?.Put?.Item).toMatchObject({
      SK: `job_${TENANT}_2`,
      executionName: `job_${TENANT}_2-2`,
    });
    expect(writes[2]?.input).toMatchObject({ ExpressionAttributeNames: { '#job0': `job_${TENANT}_3` } });
    // The pass then admits the redriven job into the slots the ends gave back.
    expect(started()).toEqual([`job_${TENANT}_2-2`]);
  });

  it('reports the first end of a run that was not given back when a later record of the run fails', async () => {
    holders = Object.fromEntries([1, 2].map((n) => [`job_${TENANT}_${n}`, { at: 1, until: 2 }]));
    queue = [];
    sfn.on(StopExecutionCommand).rejects(new Error('throttled'));
    const cancelled = record(
      'MODIFY',
      job(TENANT, 2, { status: 'cancelled' }),
      job(TENANT, 2, { status: 'running' }),
    );
    const first = ended(TENANT, 1);

    expect(await handler(batch(first, cancelled))).toEqual({
      batchItemFailures: [{ itemIdentifier: first.dynamodb!.SequenceNumber }],
    });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(Object.keys(holders).sort()).toEqual([1, 2].map((n) => `job_${TENANT}_${n}`));
  });

  it('applies the tenant with the fewest records first, so a job or two waits for no flood', async () => {
    queue = queued(...[1, 2, 3].map((n) => `job_${TENANT}_${n}`));
    stateOf(`SLOTS#${OTHER_TENANT}`).queue = queued(`job_${OTHER_TENANT}_1`);
    const records = [1, 2, 3].map((n) => submitted(TENANT, n));

    expect(await handler(batch(...records, submitted(OTHER_TENANT, 1)))).toEqual({ batchItemFailures: [] });

    expect(started()).toEqual([`job_${OTHER_TENANT}_1`, ...[1, 2, 3].map((n) => `job_${TENANT}_${n}`)]);
  });

  it("reports the earliest failed record of any tenant; other tenants' records are applied all the same", async () => {
    stateOf(`SLOTS#${OTHER_TENANT}`).queue = queued(`job_${OTHER_TENANT}_1`);
    holders = { [`job_${TENANT}_0`]: { at: 1, until: 2 } };
    queue = queued(`job_${TENANT}_1`);
    ddb.on(UpdateCommand).rejects(new Error('throttled'));
    const records = [submitted(TENANT, 1), ended(TENANT, 0), submitted(OTHER_TENANT, 1)];

    const out = await handler(batch(...records));

    // The end failed to release: the retry starts at it. The submits did their work.
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }] });
    expect(started().sort()).toEqual([`job_${TENANT}_1`, `job_${OTHER_TENANT}_1`]);
  });

  it('reports the first record that asked for a failed admission pass, so the retry runs it again', async () => {
    queue = queued(`job_${TENANT}_1`, `job_${TENANT}_2`);
    sfn.on(StartExecutionCommand, { name: `job_${TENANT}_2` }).rejects(new Error('throttled'));
    const records = [submitted(OTHER_TENANT, 1), submitted(TENANT, 1), submitted(TENANT, 2)];
    stateOf(`SLOTS#${OTHER_TENANT}`).queue = queued(`job_${OTHER_TENANT}_1`);

    const out = await handler(batch(...records));

    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]!.dynamodb!.SequenceNumber }] });
    expect(started()).toContain(`job_${OTHER_TENANT}_1`);
  });

  it('applies a retry from the reported record idempotently: no slot given back twice, no job admitted twice', async () => {
    // Tenant A: a new job whose start fails once. Tenant B, after it in the batch: a job ends and
    // lets its next one in; the retry delivers B's records again.
    const [a, b] = [TENANT, OTHER_TENANT];
    queue = queued(`job_${a}_1`);
    const other = stateOf(`SLOTS#${b}`);
    other.queue = queued(`job_${b}_1`);
    other.holders[`job_${b}_0`] = { at: 1, until: 2 };
    sfn.on(StartExecutionCommand, { name: `job_${a}_1` }).rejectsOnce(new Error('throttled'));
    const records = [submitted(a, 1), ended(b, 0), submitted(b, 1)];

    const first = await handler(batch(...records));
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: records[0]!.dynamodb!.SequenceNumber }] });
    expect(started().sort()).toEqual([`job_${a}_1`, `job_${b}_1`]);
    expect(Object.keys(other.holders)).toEqual([`job_${b}_1`]);

    sfn.resetHistory();
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await handler(batch(...records))).toEqual({ batchItemFailures: [] });

    expect(holders).toEqual({ [`job_${a}_1`]: expect.anything() });
    expect(other.holders).toEqual({ [`job_${b}_1`]: expect.anything() });
    expect([queue, other.queue]).toEqual([[], []]);
    // Each admitted job's start is repeated once, harmlessly; nothing else is admitted or started.
    expect(started().sort()).toEqual([`job_${a}_1`, `job_${b}_1`]);
  });
});
