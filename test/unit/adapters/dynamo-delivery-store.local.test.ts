import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDeliveryStore, type NewDelivery } from '../../../lambdas/adapters/dynamo-delivery-store.js';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { deliverySk } from '../../../lambdas/config/table.js';
import { deliveryId, type DeliveryMessage } from '../../../lambdas/domain/delivery.js';
import { RateLimitedError } from '../../../lambdas/domain/errors.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-deliveries-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const TTL = 4_070_908_800;
const LEASE = 60;

let doc: DynamoDBDocumentClient;
let store: DynamoDeliveryStore;
let counter = 0;

useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoDeliveryStore(TABLE, client);
});

function newDelivery(seq = 3): NewDelivery {
  counter += 1;
  const jobId = `job_${String(counter).padStart(26, '0')}`;
  return {
    tenant: `t${counter}`,
    jobId,
    seq,
    id: deliveryId(seq),
    webhookId: `msg_${jobId}_${seq}`,
    type: 'job.succeeded',
    url: 'https://hooks.example/x',
    body: '{"type":"job.succeeded"}',
    createdAt: T0.toISOString(),
  };
}

const messageOf = (d: NewDelivery, round = 0): DeliveryMessage => ({
  tenant: d.tenant,
  jobId: d.jobId,
  seq: d.seq,
  round,
});

const rawItem = async (d: NewDelivery) =>
  (
    await doc.send(
      new GetCommand({ TableName: TABLE, Key: { PK: jobPk(d.tenant, d.jobId), SK: deliverySk(d.seq) } }),
    )
  ).Item!;

const attempt = (seconds: number, httpStatus?: number) => ({
  at: at(seconds).toISOString(),
  ...(httpStatus === undefined ? { error: 'connection refused' } : { httpStatus }),
  durationMs: 5,
});

describe('DynamoDeliveryStore', () => {
  it('creates a delivery once: a second create returns the stored one and writes nothing', async () => {
    const d = newDelivery();
    const first = await store.create(d, TTL);
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({ status: 'pending', attempts: [], round: 0, roundAttempts: 0 });
    const again = await store.create({ ...d, url: 'https://other.example/' }, TTL);
    expect(again).toEqual({ created: false, record: first.record });
    expect(await rawItem(d)).toMatchObject({
      PK: jobPk(d.tenant, d.jobId),
      SK: deliverySk(3),
      ttl: TTL,
      url: 'https://hooks.example/x',
      GSI2SK: T0.toISOString(),
      GSI2PK: expect.stringMatching(/^DLV#[0-3]$/),
    });
  });

  it('lets one message claim an attempt; another message, or a second claim under a live lease, is refused', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    expect(await store.claim(messageOf(d), 0, 'm1', at(0), LEASE)).toBe(true);
    expect(await store.claim(messageOf(d), 0, 'm2', at(70), LEASE)).toBe(false);
    expect(await store.claim(messageOf(d), 0, 'm1', at(10), LEASE)).toBe(false);
    // The owner's lease lapsed (its invocation died): the owner's message may try again.
    expect(await store.claim(messageOf(d), 0, 'm1', at(61), LEASE)).toBe(true);
    // Not the next attempt, or an old round: refused.
    expect(await store.claim(messageOf(d), 1, 'm1', at(200), LEASE)).toBe(false);
    expect(await store.claim(messageOf(d, 1), 0, 'm1', at(200), LEASE)).toBe(false);
  });

  it('records attempts: a retry keeps it due on the sweep index, a success takes it off', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    await store.claim(messageOf(d), 0, 'm1', at(0), LEASE);
    const due = at(5).toISOString();
    expect(
      await store.record(messageOf(d), 0, 'm1', attempt(0), { status: 'pending', nextAttemptAt: due }, at(0)),
    ).toBe(true);
    expect(await rawItem(d)).toMatchObject({
      GSI2SK: due,
      nextAttemptAt: due,
      roundAttempts: 1,
      attemptCount: 1,
    });
    expect((await rawItem(d)).leaseUntil).toBeUndefined();

    await store.claim(messageOf(d), 1, 'm1', at(5), LEASE);
    expect(await store.record(messageOf(d), 1, 'm1', attempt(5, 200), { status: 'delivered' }, at(5))).toBe(
      true,
    );
    const item = await rawItem(d);
    expect(item).toMatchObject({ status: 'delivered', nextAttemptAt: null, roundAttempts: 2 });
    expect(item.GSI2PK).toBeUndefined();
    expect(item.GSI2SK).toBeUndefined();
    expect((await store.get(d.tenant, d.jobId, d.seq))!.attempts).toEqual([attempt(0), attempt(5, 200)]);
  });

  it('replays as a new round with no owner; an attempt of the old round still lands in the log', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    await store.claim(messageOf(d), 0, 'm1', at(0), LEASE);
    const replayed = await store.replay(d.tenant, d.jobId, d.seq, at(1));
    expect(replayed).toMatchObject({
      round: 1,
      roundAttempts: 0,
      status: 'pending',
      nextAttemptAt: at(1).toISOString(),
    });
    expect(replayed!.owner).toBeUndefined();
    // The attempt in flight when the replay came is logged, but does not move the new round.
    expect(await store.record(messageOf(d), 0, 'm1', attempt(2, 200), { status: 'delivered' }, at(2))).toBe(
      false,
    );
    const now = (await store.get(d.tenant, d.jobId, d.seq))!;
    expect(now).toMatchObject({ round: 1, roundAttempts: 0, status: 'pending' });
    expect(now.attempts).toEqual([attempt(2, 200)]);
    expect(await store.claim(messageOf(d, 1), 0, 'm2', at(3), LEASE)).toBe(true);
    expect(await store.replay(d.tenant, d.jobId, 99, at(3))).toBeUndefined();
  });

  it('allows 5 replays per delivery per hour, then refuses with the seconds until the window ends', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    for (let i = 1; i <= 5; i++) {
      expect((await store.replay(d.tenant, d.jobId, d.seq, at(i * 60)))?.round).toBe(i);
    }
    const refused = await store.replay(d.tenant, d.jobId, d.seq, at(6 * 60)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterSeconds).toBe(3600 - 5 * 60);
    expect((await store.get(d.tenant, d.jobId, d.seq))?.round).toBe(5);
    // A new window starts an hour after the first replay of the last one.
    expect((await store.replay(d.tenant, d.jobId, d.seq, at(60 + 3600)))?.round).toBe(6);
    expect(await rawItem(d)).toMatchObject({
      replaysInWindow: 1,
      replayWindowStart: at(60 + 3600).toISOString(),
    });
    const view = (await store.get(d.tenant, d.jobId, d.seq))!;
    expect(view).not.toHaveProperty('replaysInWindow');
    expect(view).not.toHaveProperty('replayWindowStart');
  });

  it('keeps the latest 20 attempts and counts every one', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    for (let n = 0; n < 25; n++) {
      await store.claim(messageOf(d), n, 'm1', at(n * 10), LEASE);
      const due = at(n * 10 + 5).toISOString();
      expect(
        await store.record(
          messageOf(d),
          n,
          'm1',
          attempt(n * 10, 500),
          { status: 'pending', nextAttemptAt: due },
          at(n * 10),
        ),
      ).toBe(true);
    }
    const kept = (await store.get(d.tenant, d.jobId, d.seq))!;
    expect(kept.attempts).toHaveLength(20);
    expect(kept.attempts[0]).toEqual(attempt(50, 500));
    expect(kept.attempts[19]).toEqual(attempt(240, 500));
    expect(kept.attemptCount).toBe(25);
  });

  it('lists a job’s deliveries in event order', async () => {
    const first = newDelivery(2);
    const second = { ...first, seq: 5, id: deliveryId(5), webhookId: `${first.webhookId}b` };
    await store.create(second, TTL);
    await store.create(first, TTL);
    expect((await store.list(first.tenant, first.jobId)).map((d) => d.id)).toEqual(['dlv_2', 'dlv_5']);
  });

  it('finds overdue deliveries and releases one only if it did not move since', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    await store.claim(messageOf(d), 0, 'lost', at(0), LEASE);
    const overdue = (await store.listOverdue(at(600).toISOString())).filter((o) => o.jobId === d.jobId);
    expect(overdue).toEqual([{ ...messageOf(d), nextAttemptAt: T0.toISOString() }]);
    // Under a live lease it is not released; once lapsed it is, and a new message can claim it.
    expect(await store.release(overdue[0]!, at(30))).toBe(false);
    expect(await store.release(overdue[0]!, at(600))).toBe(true);
    expect(await store.claim(messageOf(d), 0, 'fresh', at(601), LEASE)).toBe(true);
    expect(await store.release({ ...overdue[0]!, nextAttemptAt: at(9).toISOString() }, at(700))).toBe(false);
  });

  it('pages overdue deliveries a bounded number at a time, shard after shard, covering each once', async () => {
    const created = Array.from({ length: 7 }, () => newDelivery());
    for (const d of created) await store.create(d, TTL);
    const before = at(600).toISOString();
    const seen: string[] = [];
    let cursor: { shard: number; after?: Record<string, string> | undefined } | undefined = { shard: 0 };
    while (cursor) {
      const page = await store.listOverduePage(before, cursor, 2);
      expect(page.deliveries.length).toBeLessThanOrEqual(2);
      seen.push(...page.deliveries.map((d) => d.jobId));
      cursor = page.next;
    }
    const mine = seen.filter((id) => created.some((d) => d.jobId === id));
    expect(mine.sort()).toEqual(created.map((d) => d.jobId).sort());
  });

  it('after a restart releases a delivery whose lease belonged to the dead process, and clears the lease', async () => {
    const d = newDelivery();
    await store.create(d, TTL);
    await store.claim(messageOf(d), 0, 'killed', at(0), LEASE);
    const [overdue] = (await store.listOverdue(at(1).toISOString())).filter((o) => o.jobId === d.jobId);
    expect(await store.release(overdue!, at(1))).toBe(false);
    expect(await store.release(overdue!, at(1), true)).toBe(true);
    const item = await rawItem(d);
    expect(item.owner).toBeUndefined();
    expect(item.leaseUntil).toBeUndefined();
    expect(await store.claim(messageOf(d), 0, 'fresh', at(2), LEASE)).toBe(true);
  });
});
