import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { DynamoJobSlots, slotsKey } from '../../../lambdas/adapters/dynamo-job-slots.js';
import { DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { DynamoRateLimiter } from '../../../lambdas/adapters/dynamo-rate-limiter.js';
import { QuotaExceededError, RateLimitedError } from '../../../lambdas/domain/errors.js';
import { idempotencyKeyId, newJobId } from '../../../lambdas/domain/idempotency.js';
import type { Job } from '../../../lambdas/domain/job.js';
import { newJob } from '../../../lambdas/domain/job.js';
import { LEASE_MARGIN_SECONDS } from '../../../lambdas/domain/job-slots.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';
import { useJobsTable } from '../support/dynamodb-local.js';
import { rejection } from '../support/fixtures.js';

const TABLE = 'agent-jobs-slots-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const NOW = T0.getTime();

let doc: DynamoDBDocumentClient;
let store: DynamoJobStore;
let slots: DynamoJobSlots;
let tenantCounter = 0;
const freshTenant = () => `slots${++tenantCounter}-${process.pid}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
  slots = new DynamoJobSlots(TABLE, client);
});

/** Jobs `ms` apart, so their ids (time-ordered) sort in submit order. */
function job(tenant: string, ms: number): Job {
  const createdAt = new Date(NOW + ms);
  return newJob(
    newJobId(createdAt.getTime()),
    tenant,
    { agent: 'echo', input: { message: 'hi' }, timeoutSeconds: 60 },
    createdAt,
    liveExpiry(createdAt, 60),
  );
}

async function submitted(tenant: string, count: number, limit = 1000): Promise<Job[]> {
  const jobs = Array.from({ length: count }, (_, i) => job(tenant, i));
  for (const j of jobs) await store.create(j, 'fp', T0, undefined, { maxQueuedJobs: limit });
  return jobs;
}

const queueIds = async (tenant: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': `QUEUE#${tenant}` },
        ConsistentRead: true,
      }),
    )
  ).Items?.map((i) => i.SK as string) ?? [];

async function setStatus(j: Job, status: string) {
  await doc.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { PK: jobPk(j.tenant, j.id), SK: 'JOB' },
      UpdateExpression: 'SET #status = :s',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':s': status },
    }),
  );
}

const admit = async (tenant: string, max: number, now: number) =>
  (await slots.admit(tenant, max, now)).admitted;

const queuedOf = (j: Job) => ({
  tenant: j.tenant,
  id: j.id,
  executionName: j.executionName,
  timeoutSeconds: 60,
});

/** The commands `work` sends through the slots' client, by name. */
async function commandsOf(work: () => Promise<unknown>): Promise<string[]> {
  const send = vi.spyOn(doc, 'send');
  try {
    await work();
    return send.mock.calls.map(([command]) => command.constructor.name);
  } finally {
    send.mockRestore();
  }
}

describe('DynamoJobSlots on DynamoDB Local', () => {
  it('a submit queues the job and counts it in the same write', async () => {
    const tenant = freshTenant();
    const [a, b] = await submitted(tenant, 2);
    expect(await queueIds(tenant)).toEqual([a!.id, b!.id]);
    expect(await slots.read(tenant)).toEqual({ running: 0, queued: 2, holders: {} });
    expect(await slots.position(tenant, a!.id)).toBe(1);
    expect(await slots.position(tenant, b!.id)).toBe(2);
  });

  it('refuses a submit over maxQueuedJobs with a Retry-After and writes nothing', async () => {
    const tenant = freshTenant();
    await submitted(tenant, 2, 2);
    const third = job(tenant, 10);
    const refused = await rejection(store.create(third, 'fp', T0, undefined, { maxQueuedJobs: 2 }));
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect((refused as QuotaExceededError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(await store.get(tenant, third.id, T0)).toBeUndefined();
    expect(await queueIds(tenant)).toHaveLength(2);
    expect((await slots.read(tenant)).queued).toBe(2);
  });

  it('refuses a keyed submit over the quota too, leaving the key unused', async () => {
    const tenant = freshTenant();
    await submitted(tenant, 1, 1);
    const key = idempotencyKeyId(tenant, 'k-1');
    const j = job(tenant, 5);
    expect(await rejection(store.create(j, 'fp', T0, key, { maxQueuedJobs: 1 }))).toBeInstanceOf(
      QuotaExceededError,
    );
    // Room again: the same key now creates the job.
    const [head] = await queueIds(tenant);
    await setStatus({ ...j, id: head! }, 'cancelled');
    await slots.release(tenant, head!);
    expect((await store.create(j, 'fp', T0, key, { maxQueuedJobs: 1 })).created).toBe(true);
  });

  it('admits in submit order up to maxRunningJobs, each with a lease past its deadline', async () => {
    const tenant = freshTenant();
    const jobs = await submitted(tenant, 5);
    const admitted = await admit(tenant, 2, NOW);
    expect(admitted.map((j) => j.id)).toEqual([jobs[0]!.id, jobs[1]!.id]);
    const state = await slots.read(tenant);
    expect(state).toMatchObject({ running: 2, queued: 3 });
    expect(state.holders[jobs[0]!.id]).toEqual({ at: NOW, until: NOW + (60 + LEASE_MARGIN_SECONDS) * 1000 });
    expect(await slots.position(tenant, jobs[0]!.id)).toBeUndefined();
    expect(await slots.position(tenant, jobs[2]!.id)).toBe(1);
    expect(await admit(tenant, 2, NOW)).toEqual([]);

    expect(await slots.release(tenant, jobs[0]!.id)).toBe('slot');
    expect(await slots.release(tenant, jobs[0]!.id)).toBe('none');
    expect((await admit(tenant, 2, NOW)).map((j) => j.id)).toEqual([jobs[2]!.id]);
    expect(await slots.read(tenant)).toMatchObject({ running: 2, queued: 2 });
  });

  it('admits the jobs it is told of without querying the queue when they are the whole queue', async () => {
    const tenant = freshTenant();
    const jobs = await submitted(tenant, 3);
    let admitted: string[] = [];
    const sent = await commandsOf(async () => {
      const told = [...jobs].reverse().map(queuedOf);
      admitted = (await slots.admit(tenant, 10, NOW, [...told, told[0]!])).admitted.map((j) => j.id);
    });
    expect(sent).toEqual(['GetCommand', 'TransactWriteCommand']);
    expect(admitted).toEqual(jobs.map((j) => j.id));
    expect(await slots.read(tenant)).toMatchObject({ running: 3, queued: 0 });
    expect(await queueIds(tenant)).toEqual([]);
  });

  it('reads the head of the queue when other jobs wait too, and keeps submit order', async () => {
    const tenant = freshTenant();
    const jobs = await submitted(tenant, 3);
    const sent = await commandsOf(async () => {
      const admitted = await slots.admit(tenant, 2, NOW, [queuedOf(jobs[2]!)]);
      expect(admitted.admitted.map((j) => j.id)).toEqual([jobs[0]!.id, jobs[1]!.id]);
    });
    expect(sent).toEqual(['GetCommand', 'QueryCommand', 'TransactWriteCommand']);
    expect(await queueIds(tenant)).toEqual([jobs[2]!.id]);
  });

  it('reads the queue again when jobs it was told of no longer wait, admitting each job once', async () => {
    const tenant = freshTenant();
    const [a, b, c] = await submitted(tenant, 3);
    expect((await admit(tenant, 1, NOW)).map((j) => j.id)).toEqual([a!.id]);
    // Told of a (admitted already) and b: as many as are queued (b and c), but not the queue.
    const admitted = await slots.admit(tenant, 10, NOW, [queuedOf(a!), queuedOf(b!)]);
    expect(admitted.admitted.map((j) => j.id)).toEqual([b!.id, c!.id]);
    expect(await slots.read(tenant)).toMatchObject({ running: 3, queued: 0 });
  });

  it("gives back a tenant's finished jobs' slots in one write, and each job's own way when one holds none", async () => {
    const tenant = freshTenant();
    const jobs = await submitted(tenant, 5);
    await admit(tenant, 3, NOW);
    const [a, b, c, queued] = jobs.map((j) => j.id);
    let outcomes: string[] = [];
    const sent = await commandsOf(async () => (outcomes = await slots.releaseAll(tenant, [a!, b!, a!])));
    expect(sent).toEqual(['UpdateCommand']);
    expect(outcomes).toEqual(['slot', 'slot', 'slot']);
    expect(await slots.read(tenant)).toMatchObject({ running: 1, queued: 2 });

    // a holds nothing any more, c a slot, the fourth job a queue entry: the write for all is
    // refused and each is given back on its own.
    expect(await slots.releaseAll(tenant, [c!, queued!, a!])).toEqual(['slot', 'queue', 'none']);
    expect(await slots.read(tenant)).toEqual({ running: 0, queued: 1, holders: {} });
    expect(await queueIds(tenant)).toEqual([jobs[4]!.id]);
  });

  it('20 concurrent admitters with maxRunningJobs 2 admit exactly 2 jobs, each once', async () => {
    const tenant = freshTenant();
    const jobs = await submitted(tenant, 20);
    const rounds = await Promise.all(Array.from({ length: 20 }, () => admit(tenant, 2, NOW)));
    const admitted = rounds.flat().map((j) => j.id);
    expect(admitted.sort()).toEqual([jobs[0]!.id, jobs[1]!.id]);
    expect(await slots.read(tenant)).toMatchObject({ running: 2, queued: 18 });
    expect(await queueIds(tenant)).toHaveLength(18);
  });

  it('keeps tenants apart: a full tenant never holds another back', async () => {
    const busy = freshTenant();
    const quiet = freshTenant();
    await submitted(busy, 30);
    await admit(busy, 1, NOW);
    const [mine] = await submitted(quiet, 1);
    expect((await admit(quiet, 1, NOW)).map((j) => j.id)).toEqual([mine!.id]);
    expect(await admit(busy, 1, NOW)).toEqual([]);
  });

  it('drops the queue entry of a job that no longer waits instead of admitting it', async () => {
    const tenant = freshTenant();
    const [cancelled, next] = await submitted(tenant, 2);
    await setStatus(cancelled!, 'cancelled');
    expect((await admit(tenant, 1, NOW)).map((j) => j.id)).toEqual([next!.id]);
    expect(await queueIds(tenant)).toEqual([]);
    expect(await slots.read(tenant)).toMatchObject({ running: 1, queued: 0 });
  });

  it('a job cancelled while queued gives back its queue entry, once', async () => {
    const tenant = freshTenant();
    const [a] = await submitted(tenant, 1);
    expect(await slots.release(tenant, a!.id)).toBe('queue');
    expect(await slots.release(tenant, a!.id)).toBe('none');
    expect(await slots.read(tenant)).toMatchObject({ running: 0, queued: 0 });
  });

  it('queues a redriven job again, but never one that is queued or holds a slot', async () => {
    const tenant = freshTenant();
    const [a] = await submitted(tenant, 1);
    const queued = { tenant, id: a!.id, executionName: a!.executionName, timeoutSeconds: 60 };
    expect(await slots.enqueue(queued)).toBe(false);
    await admit(tenant, 1, NOW);
    expect(await slots.enqueue(queued)).toBe(false);
    await slots.release(tenant, a!.id);
    expect(await slots.enqueue({ ...queued, executionName: `${a!.id}-2` })).toBe(true);
    expect(await slots.read(tenant)).toMatchObject({ running: 0, queued: 1 });
  });

  it('lists the tenants holding a slots item for the sweep', async () => {
    const tenant = freshTenant();
    await submitted(tenant, 1);
    expect(await slots.tenants()).toContain(tenant);
    const { Item } = await doc.send(new GetCommand({ TableName: TABLE, Key: slotsKey(tenant) }));
    expect(Item).toMatchObject({ tenant, GSI2PK: 'SLOTS' });
  });

  it("reads a holder's status, treating a missing job as gone", async () => {
    const tenant = freshTenant();
    const [a] = await submitted(tenant, 1);
    expect(await slots.holderStatus(tenant, a!.id, T0)).toEqual({ status: 'pending' });
    expect(await slots.holderStatus(tenant, 'job_missing', T0)).toBeUndefined();
  });
});

describe('a submit admitting its request rate in its own transaction (DynamoDB Local)', () => {
  const policy = { limit: 3, windowMs: 60_000 };
  const limits = { maxQueuedJobs: 1000, requests: policy };
  const storedTat = async (tenant: string) =>
    (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: `RATE#${tenant}`, SK: 'REQUESTS' } }))).Item
      ?.tat as number | undefined;

  it('admits up to the limit with the exact decision, then refuses with the exact wait, writing nothing', async () => {
    const tenant = freshTenant();
    const remaining = [];
    for (let i = 0; i < 3; i++)
      remaining.push((await store.create(job(tenant, i), 'fp', T0, undefined, limits)).rate?.remaining);
    expect(remaining).toEqual([2, 1, 0]);
    expect(await storedTat(tenant)).toBe(NOW + 60_000);

    const over = job(tenant, 10);
    const refused = await rejection(store.create(over, 'fp', new Date(NOW + 5_000), undefined, limits));
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused).toMatchObject({
      retryAfterSeconds: 15,
      decision: { admitted: false, retryAfterMs: 15_000 },
    });
    expect(await store.get(tenant, over.id, T0)).toBeUndefined();
    expect(await slots.read(tenant)).toMatchObject({ queued: 3 });
    expect(await storedTat(tenant)).toBe(NOW + 60_000);
  });

  it('shares the bucket with the middleware limiter: a TAT moved elsewhere costs one more send, never a wrong count', async () => {
    const tenant = freshTenant();
    await store.create(job(tenant, 0), 'fp', T0, undefined, limits);
    // Another container (a GET through the middleware) moves the TAT this store does not know of.
    await new DynamoRateLimiter(TABLE, doc).admit(tenant, policy, NOW);
    const third = await store.create(job(tenant, 1), 'fp', T0, undefined, limits);
    expect(third.rate).toMatchObject({ admitted: true, remaining: 0 });
    expect(await storedTat(tenant)).toBe(NOW + 60_000);
    expect(await rejection(store.create(job(tenant, 2), 'fp', T0, undefined, limits))).toBeInstanceOf(
      RateLimitedError,
    );
  });
  it('admits 12 concurrent submits of one tenant, each counted once, however often the bucket moved', async () => {
    const tenant = freshTenant();
    const wide = { maxQueuedJobs: 1000, requests: { limit: 600, windowMs: 60_000 } };
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.create(job(tenant, i), 'fp', T0, undefined, wide)),
    );
    expect(outcomes.every((o) => o.created && o.rate?.admitted)).toBe(true);
    // Twelve requests, one 100 ms interval each, from an idle bucket.
    expect(await storedTat(tenant)).toBe(NOW + 12 * 100);
    expect(await slots.read(tenant)).toMatchObject({ queued: 12 });
  });
});
