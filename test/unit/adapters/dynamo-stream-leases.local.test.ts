import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { countDynamoRequests, type DynamoCounter } from '../../../bench/ddb-counter.js';
import { DynamoStreamLeases } from '../../../lambdas/adapters/dynamo-stream-leases.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-stream-leases-test';
const T0 = 1_750_000_000_000;
const policy = { max: 2, leaseMs: 60_000 };

let doc: DynamoDBDocumentClient;
let counter: DynamoCounter;
let seq = 0;
const freshTenant = () => `streams-${process.pid}-${++seq}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  counter = countDynamoRequests(client as unknown as DynamoDBClient);
});

const storedLeases = async (tenant: string) =>
  (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: `STREAMS#${tenant}`, SK: 'STREAMS' } }))).Item
    ?.leases as Record<string, number> | undefined;

describe('DynamoStreamLeases', () => {
  it('admits up to the limit, refuses the next without changing anything, and admits again after a release', async () => {
    const leases = new DynamoStreamLeases(TABLE, doc);
    const tenant = freshTenant();
    expect((await leases.acquire(tenant, 's1', policy, T0)).admitted).toBe(true);
    expect((await leases.acquire(tenant, 's2', policy, T0 + 1)).admitted).toBe(true);
    const refused = await leases.acquire(tenant, 's3', policy, T0 + 2);
    expect(refused).toMatchObject({ admitted: false, retryAfterMs: 10_000 });
    expect(await storedLeases(tenant)).toEqual({ s1: T0 + 60_000, s2: T0 + 60_001 });

    await leases.release(tenant, 's1');
    expect((await leases.acquire(tenant, 's4', policy, T0 + 3)).admitted).toBe(true);
    expect(await storedLeases(tenant)).toEqual({ s2: T0 + 60_001, s4: T0 + 60_003 });
  });

  it('admits exactly the limit when containers race for the same tenant', async () => {
    const tenant = freshTenant();
    const containers = Array.from({ length: 6 }, () => new DynamoStreamLeases(TABLE, doc));
    const decisions = await Promise.all(containers.map((c, i) => c.acquire(tenant, `s${i}`, policy, T0)));
    expect(decisions.filter((d) => d.admitted)).toHaveLength(2);
    expect(Object.keys((await storedLeases(tenant)) ?? {})).toHaveLength(2);
  });

  it('drops leases that ran out (a stream whose function was killed) in the write that admits', async () => {
    const leases = new DynamoStreamLeases(TABLE, doc);
    const tenant = freshTenant();
    await leases.acquire(tenant, 'leaked1', policy, T0);
    await leases.acquire(tenant, 'leaked2', policy, T0);
    expect((await leases.acquire(tenant, 'early', policy, T0 + 59_000)).admitted).toBe(false);

    const before = counter.snapshot();
    expect((await leases.acquire(tenant, 'late', policy, T0 + 60_000)).admitted).toBe(true);
    // The first guess (nothing ran out) is refused and returns the item: no read, two writes.
    expect(counter.since(before)).toMatchObject({ reads: 0, consistentReads: 0, writes: 2 });
    expect(await storedLeases(tenant)).toEqual({ late: T0 + 120_000 });
  });

  it('takes a lease on a fresh tenant with two writes and none once its item exists', async () => {
    const leases = new DynamoStreamLeases(TABLE, doc);
    const tenant = freshTenant();
    let before = counter.snapshot();
    await leases.acquire(tenant, 'a', policy, T0);
    expect(counter.since(before)).toMatchObject({ reads: 0, writes: 2 });
    before = counter.snapshot();
    await leases.acquire(tenant, 'b', policy, T0);
    expect(counter.since(before)).toMatchObject({ reads: 0, writes: 1 });
  });

  it('gives back a lease that is already gone without an error', async () => {
    const leases = new DynamoStreamLeases(TABLE, doc);
    const tenant = freshTenant();
    await leases.release(tenant, 'never-taken');
    await leases.acquire(tenant, 'a', policy, T0);
    await leases.release(tenant, 'a');
    await leases.release(tenant, 'a');
    expect(await storedLeases(tenant)).toEqual({});
  });
});

describe('DynamoStreamLeases with many leaked leases', () => {
  it('drops them in bounded batches and still admits (expressions stay within DynamoDB limits)', async () => {
    const leases = new DynamoStreamLeases(TABLE, doc);
    const tenant = freshTenant();
    const many = { max: 1_000, leaseMs: 1_000 };
    for (let i = 0; i < 150; i++) await leases.acquire(tenant, `leaked-${i}`, many, T0);
    const decision = await leases.acquire(tenant, 'fresh', policy, T0 + 5_000);
    expect(decision.admitted).toBe(true);
    expect(await storedLeases(tenant)).toEqual({ fresh: T0 + 65_000 });
  });
});
