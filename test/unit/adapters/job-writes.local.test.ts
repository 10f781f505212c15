import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { committedWrite, DynamoJobStore, JOB_SK, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { WORKFLOW_STATES as S } from '../../../lambdas/config/workflow.js';
import { eventsOfWrite, type JobEventType } from '../../../lambdas/domain/job-events.js';
import { synth } from '../../constructs/support.js';
import { useJobsTable } from '../support/dynamodb-local.js';
import { createdJob } from '../support/job-writes.js';

/**
 * The workflow's own writes to a job item (MarkRunning, WaitForInput), run exactly as CDK synthesized
 * them, interleaved with the store's writes: every write must announce its events by the one rule
 * the events consumer derives them with (`eventsOfWrite`), and be refused in the statuses its move
 * does not start from.
 */
const TABLE = 'agent-jobs-job-writes-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const TOKEN = 'task-token-1';

let doc: DynamoDBDocumentClient;
let store: DynamoJobStore;
let tenantCounter = 0;
const freshTenant = () => `jw${++tenantCounter}-${process.pid}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
});

type Parameters = Record<string, unknown>;

/** The state's Parameters with its paths filled in as Step Functions would, on this table. */
function resolved(value: unknown, paths: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolved(v, paths));
  if (typeof value === 'string' && value.startsWith('<Ref:')) return TABLE;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) =>
      key.endsWith('.$') ? [key.slice(0, -2), paths[v as string]] : [key, resolved(v, paths)],
    ),
  );
}

/** Runs the synthesized task's UpdateItem for the job: true if it wrote, false if its condition refused. */
async function runTask(state: string, tenant: string, id: string): Promise<boolean> {
  const definition = synth().asl.States[state] as unknown as { Parameters: Parameters };
  const params = resolved(definition.Parameters, {
    '$.pk': jobPk(tenant, id),
    '$$.Execution.StartTime': at(1).toISOString(),
    '$$.Task.Token': TOKEN,
  });
  try {
    await doc.send(new UpdateItemCommand(params as never));
    return true;
  } catch (e) {
    if ((e as Error).name === 'ConditionalCheckFailedException') return false;
    throw e;
  }
}

async function item(tenant: string, id: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: TABLE, Key: { PK: jobPk(tenant, id), SK: JOB_SK }, ConsistentRead: true }),
  );
  return Item!;
}

/** The events the consumer derives from one write, given the item before and after it. */
async function eventsOf(tenant: string, id: string, write: () => Promise<unknown>) {
  const before = await item(tenant, id);
  await write();
  const after = await item(tenant, id);
  const committed = committedWrite(after, before);
  return { after, events: eventsOfWrite(committed!.write).map((e) => [e.seq, e.type]) };
}

const progress = (step: number) => ({ fraction: step / 4, step, message: null });
const events = (first: number, ...types: JobEventType[]) => types.map((t, i) => [first + i, t]);

describe('the workflow writes a job item by the store rules', () => {
  it('MarkRunning, WaitForInput and the store writes give one gapless log in any order they meet', async () => {
    const tenant = freshTenant();
    const { id } = await createdJob(store, tenant, T0);
    const run = (state: string) => () => runTask(state, tenant, id);

    expect((await eventsOf(tenant, id, run(S.markRunning))).events).toEqual(events(2, 'job.running'));
    const step = { completedSteps: 1, progress: progress(1), state: { n: 1 } };
    expect((await eventsOf(tenant, id, () => store.checkpoint(tenant, id, step, at(2)))).events).toEqual(
      events(3, 'job.progress'),
    );
    // A resumed execution starts the running job again: one more job.running.
    expect((await eventsOf(tenant, id, run(S.markRunning))).events).toEqual(events(4, 'job.running'));
    const ask = { completedSteps: 2, progress: progress(2), state: { n: 2 } };
    expect(
      (await eventsOf(tenant, id, () => store.requestInput(tenant, id, ask, { prompt: 'Name?' }, at(3))))
        .events,
    ).toEqual(events(5, 'job.progress', 'job.input_required'));
    // Storing the task token causes no event and leaves the seq alone.
    const parked = await eventsOf(tenant, id, run(S.waitForInput));
    expect(parked.events).toEqual([]);
    expect(parked.after).toMatchObject({ eventSeq: 6, inputToken: TOKEN });
    expect((await eventsOf(tenant, id, () => store.submitInput(tenant, id, 'Ada', at(4)))).events).toEqual(
      events(7, 'job.running'),
    );
    const last = { completedSteps: 3, progress: progress(3) };
    expect(
      (await eventsOf(tenant, id, () => store.succeed(tenant, id, { ok: true }, last, at(5)))).events,
    ).toEqual(events(8, 'job.progress', 'job.succeeded'));
  });

  it('MarkRunning and WaitForInput are refused in the statuses their moves do not start from', async () => {
    const tenant = freshTenant();
    const { id } = await createdJob(store, tenant, T0);
    // Pending: not waiting for input.
    expect(await runTask(S.waitForInput, tenant, id)).toBe(false);
    await store.cancel(tenant, id, at(1));
    expect(await runTask(S.markRunning, tenant, id)).toBe(false);
    expect(await runTask(S.waitForInput, tenant, id)).toBe(false);
    expect(await item(tenant, id)).toMatchObject({ status: 'cancelled', eventSeq: 2 });
  });
});
