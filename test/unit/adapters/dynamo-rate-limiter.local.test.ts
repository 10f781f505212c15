import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { countDynamoRequests, type DynamoCounter } from '../../../bench/ddb-counter.js';
import { DynamoRateLimiter } from '../../../lambdas/adapters/dynamo-rate-limiter.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-rate-limit-test';
const T0 = 1_750_000_000_000;
const policy = { limit: 3, windowMs: 60_000 }; // one request per 20 s, a burst of 3

let doc: DynamoDBDocumentClient;
let counter: DynamoCounter;
let seq = 0;
const freshTenant = () => `rate-${process.pid}-${++seq}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  // The document client sends through the low-level client's middleware stack: every request is seen.
  counter = countDynamoRequests(client as unknown as DynamoDBClient);
});

const storedTat = async (tenant: string) =>
  (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: `RATE#${tenant}`, SK: 'REQUESTS' } }))).Item
    ?.tat as number | undefined;

describe('DynamoRateLimiter', () => {
  it('admits with exactly one write and no read per request, idle or busy', async () => {
    const limiter = new DynamoRateLimiter(TABLE, doc);
    const tenant = freshTenant();
    const before = counter.snapshot();
    const decisions = [];
    // Fresh bucket (idle write), then twice busy, then idle again after the bucket refilled.
    for (const now of [T0, T0 + 1, T0 + 2, T0 + 200_000])
      decisions.push(await limiter.admit(tenant, policy, now));
    expect(decisions.map((d) => [d.admitted, d.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [true, 2],
    ]);
    expect(counter.since(before)).toMatchObject({ reads: 0, consistentReads: 0, writes: 4 });
  });

  it('refuses over the limit with one write, changing nothing, and answers the exact wait', async () => {
    const limiter = new DynamoRateLimiter(TABLE, doc);
    const tenant = freshTenant();
    for (let i = 0; i < 3; i++) await limiter.admit(tenant, policy, T0);
    const tat = await storedTat(tenant);

    const before = counter.snapshot();
    const refused = await limiter.admit(tenant, policy, T0 + 5_000);
    expect(refused).toMatchObject({ admitted: false, remaining: 0, retryAfterMs: 15_000, resetMs: 55_000 });
    expect(counter.since(before)).toMatchObject({ reads: 0, consistentReads: 0, writes: 1 });
    expect(await storedTat(tenant)).toBe(tat);
    expect((await limiter.admit(tenant, policy, T0 + 20_000)).admitted).toBe(true);
  });

  it('never admits more than the limit when containers race, each with its own guess', async () => {
    const tenant = freshTenant();
    const containers = Array.from({ length: 6 }, () => new DynamoRateLimiter(TABLE, doc));
    const decisions = await Promise.all(containers.map((c) => c.admit(tenant, policy, T0)));
    expect(decisions.filter((d) => d.admitted)).toHaveLength(3);
    expect(await storedTat(tenant)).toBe(T0 + 60_000);
  });

  it('costs a second write only when another container moved the bucket behind its guess', async () => {
    const [a, b] = [new DynamoRateLimiter(TABLE, doc), new DynamoRateLimiter(TABLE, doc)];
    const tenant = freshTenant();
    await a.admit(tenant, policy, T0);
    const before = counter.snapshot();
    // b has never seen this tenant, guesses an idle bucket, and finds it busy.
    expect((await b.admit(tenant, policy, T0 + 1)).admitted).toBe(true);
    expect(counter.since(before)).toMatchObject({ reads: 0, consistentReads: 0, writes: 2 });
    expect(await storedTat(tenant)).toBe(T0 + 40_000);
  });
});
