import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { JobEvent } from '../../../lambdas/domain/job-events.js';
import { toTtl } from '../../../lambdas/domain/retention.js';
import { useJobsTable } from '../support/dynamodb-local.js';
import { createdJob, markRunning } from '../support/job-writes.js';

const TABLE = 'agent-jobs-events-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const TTL = 4_070_908_800;

let doc: DynamoDBDocumentClient;
let store: DynamoJobStore;
let tenantCounter = 0;
const freshTenant = () => `ev${++tenantCounter}-${process.pid}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
});

async function seqOf(tenant: string, id: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: TABLE, Key: { PK: jobPk(tenant, id), SK: 'JOB' } }),
  );
  return {
    eventSeq: Item?.eventSeq as number,
    lastEventTypes: Item?.lastEventTypes as string[],
    status: Item?.status,
  };
}

const progress = (step: number) => ({ fraction: step / 10, step, message: `step ${step}` });
const event = (seq: number, type: JobEvent['type'] = 'job.progress', when = at(seq)): JobEvent => ({
  seq,
  type,
  at: when.toISOString(),
  data: { seq },
});

describe('event seq on the job item', () => {
  it('starts at 1 with job.created and advances by exactly the events each write names', async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    expect(await seqOf(tenant, job.id)).toMatchObject({ eventSeq: 1, lastEventTypes: ['job.created'] });
    await markRunning(doc, TABLE, tenant, job.id, at(1));
    await store.checkpoint(
      tenant,
      job.id,
      { completedSteps: 1, progress: progress(1), progressData: { k: 1 }, state: null },
      at(2),
    );
    expect(await seqOf(tenant, job.id)).toMatchObject({ eventSeq: 3, lastEventTypes: ['job.progress'] });
    await store.succeed(tenant, job.id, { ok: true }, { completedSteps: 2, progress: progress(2) }, at(3));
    expect(await seqOf(tenant, job.id)).toMatchObject({
      eventSeq: 5,
      lastEventTypes: ['job.progress', 'job.succeeded'],
    });
    const stored = await store.get(tenant, job.id, at(4));
    expect(stored?.eventSeq).toBe(5);
    expect(stored).not.toHaveProperty('progressData');
    expect(stored).not.toHaveProperty('lastEventTypes');
  });

  it('lets only one of racing writers commit, so no seq is ever handed out twice', async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    await markRunning(doc, TABLE, tenant, job.id, at(1));
    // The same step retried in parallel with itself, a cancel and a failure, all at once.
    const cp = { completedSteps: 1, progress: progress(1), state: null };
    const outcomes = await Promise.all([
      store.checkpoint(tenant, job.id, cp, at(2)),
      store.checkpoint(tenant, job.id, cp, at(2)),
      store.checkpoint(tenant, job.id, cp, at(2)),
      store.fail(tenant, job.id, { code: 'agent_error', message: 'x', retryable: false }, at(2)),
      store.cancel(tenant, job.id, at(2)).then(
        () => true,
        () => false,
      ),
    ]);
    const after = await seqOf(tenant, job.id);
    // Every committed write took the next seq(s); the counter is 2 (running) plus one per commit.
    expect(after.eventSeq).toBe(2 + outcomes.filter(Boolean).length);
    expect(outcomes.slice(0, 3).filter(Boolean).length).toBeLessThanOrEqual(1);
  });
});

describe('event items', () => {
  it('appends an event once: a second put of the same seq, even concurrent, is refused', async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    const puts = await Promise.all(
      Array.from({ length: 5 }, () => store.putEvent(tenant, job.id, event(1, 'job.created', T0), TTL)),
    );
    expect(puts.filter(Boolean)).toHaveLength(1);
  });

  it('pages in seq order after a seq, with a cursor until the end', async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    for (let seq = 1; seq <= 12; seq++) await store.putEvent(tenant, job.id, event(seq), TTL);
    const first = await store.listEvents(tenant, job.id, { after: 0, limit: 5, since: job.createdAt });
    expect(first.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(first.events[0]).toEqual(event(1));
    expect(first.next).toBe(5);
    const second = await store.listEvents(tenant, job.id, { after: 9, limit: 5, since: job.createdAt });
    expect(second.events.map((e) => e.seq)).toEqual([10, 11, 12]);
    expect(second.next).toBeUndefined();
  });

  it("never reads another job's or another tenant's log", async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    await store.putEvent(tenant, job.id, event(1), TTL);
    const other = await store.listEvents(freshTenant(), job.id, {
      after: 0,
      limit: 10,
      since: job.createdAt,
    });
    expect(other.events).toEqual([]);
  });

  it('hides events older than the job: the log of an expired job that once had the same id', async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    await store.putEvent(tenant, job.id, event(1, 'job.created', at(-100)), TTL);
    await store.putEvent(tenant, job.id, event(2, 'job.created', T0), TTL);
    const page = await store.listEvents(tenant, job.id, { after: 0, limit: 10, since: job.createdAt });
    expect(page.events.map((e) => e.seq)).toEqual([2]);
  });
});

describe('log expiry', () => {
  const ttlOf = async (tenant: string, id: string, sk: string) =>
    (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: jobPk(tenant, id), SK: sk } }))).Item?.ttl;

  it('live events expire as the job would if it succeeded by its deadline; a failure extends them to its own', async () => {
    const tenant = freshTenant();
    const job = await createdJob(store, tenant, T0);
    const liveTtl = store.logTtl(job);
    expect(liveTtl).toBe(T0.getTime() / 1000 + 900 + 3_600 + 7 * 86_400);
    expect(liveTtl).toBeLessThan(toTtl(job.expiresAt));
    await store.putEvent(tenant, job.id, event(1, 'job.created'), liveTtl);

    await store.fail(tenant, job.id, { code: 'agent_error', message: 'x', retryable: false }, at(60));
    const failed = await store.latestWrite(tenant, job.id);
    expect(failed!.ttl).toBe(toTtl(new Date(at(60).getTime() + 30 * 86_400_000)));

    expect(await store.extendLog(tenant, job.id, failed!.ttl)).toBe(1);
    expect(await ttlOf(tenant, job.id, 'E#0000000001')).toBe(failed!.ttl);
    expect(await store.extendLog(tenant, job.id, failed!.ttl)).toBe(0);
    expect(await ttlOf(tenant, job.id, 'JOB')).toBe(failed!.ttl);
  });
});
