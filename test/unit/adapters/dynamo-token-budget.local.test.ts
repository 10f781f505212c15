import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { countDynamoRequests, type DynamoCounter } from '../../../bench/ddb-counter.js';
import { DynamoTokenBudget } from '../../../lambdas/adapters/dynamo-token-budget.js';
import { estimatedTokens, type TokenReservation } from '../../../lambdas/domain/token-budget.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-token-budget-test';
const T0 = 1_750_000_000_000;
const PER_MINUTE = 600; // 100 ms of window per token
/** A request whose reservation is exactly 37 tokens: 1 for the empty prompt, 36 of output. */
const CALL_TOKENS = estimatedTokens({ messages: [], maxOutputTokens: 36 });

let doc: DynamoDBDocumentClient;
let counter: DynamoCounter;
let seq = 0;
const freshTenant = () => `tokens-${process.pid}-${++seq}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  counter = countDynamoRequests(client as unknown as DynamoDBClient);
});

const budget = () => new DynamoTokenBudget(TABLE, async () => PER_MINUTE, doc);
const stored = async (tenant: string) =>
  (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: `RATE#${tenant}`, SK: 'TOKENS' } }))).Item;

async function reserved(b: DynamoTokenBudget, tenant: string, now = T0): Promise<TokenReservation> {
  const result = await b.reserve(tenant, CALL_TOKENS, now);
  if (!result.admitted) throw new Error('expected the reservation to be admitted');
  return result.reservation;
}

describe('DynamoTokenBudget', () => {
  it('reserves with one conditional write and no read, and refuses with the exact wait', async () => {
    const b = budget();
    const tenant = freshTenant();
    const before = counter.snapshot();
    expect(await b.reserve(tenant, CALL_TOKENS, T0)).toEqual({
      admitted: true,
      reservation: { tenant, tokens: 37, tokensPerMinute: PER_MINUTE },
    });
    expect(counter.since(before)).toMatchObject({ reads: 0, writes: 1 });
    expect(await stored(tenant)).toMatchObject({
      tat: T0 + 3_700,
      ttl: Math.ceil((T0 + 60_000) / 1000) + 86_400,
    });
    for (let i = 0; i < 15; i++) await reserved(b, tenant);
    // 16 x 37 = 592 tokens are held; 37 more need 29 tokens of refill, 2.9 s.
    expect(await b.reserve(tenant, CALL_TOKENS, T0)).toEqual({
      admitted: false,
      waitMs: 2_900,
      tokensPerMinute: 600,
    });
    expect((await stored(tenant))?.tat).toBe(T0 + 59_200);
    expect((await b.reserve(tenant, CALL_TOKENS, T0 + 2_900)).admitted).toBe(true);
  });

  it('never overspends when many containers reserve at the same instant', async () => {
    const tenant = freshTenant();
    const results = await Promise.all(
      Array.from({ length: 24 }, () => budget().reserve(tenant, CALL_TOKENS, T0)),
    );
    const admitted = results.filter((r) => r.admitted);
    expect(admitted).toHaveLength(Math.floor(PER_MINUTE / 37));
    expect(admitted.length * 37).toBeLessThanOrEqual(PER_MINUTE);
    expect((await stored(tenant))?.tat).toBe(T0 + admitted.length * 3_700);
  });

  it('settles with the real usage: refunds what was not used, charges what was used beyond', async () => {
    const b = budget();
    const tenant = freshTenant();
    const first = await reserved(b, tenant);
    await b.settle(first, { inputTokens: 11, outputTokens: 7 }, T0 + 10);
    expect((await stored(tenant))?.tat).toBe(T0 + 3_700 - 1_900);
    const second = await reserved(b, tenant, T0 + 20);
    await b.settle(second, { inputTokens: 50, outputTokens: 10 }, T0 + 30);
    // 1.8 s from the first call, 3.7 s reserved and 2.3 s charged after for the second.
    expect((await stored(tenant))?.tat).toBe(T0 + 1_800 + 3_700 + 2_300);
  });

  it('charges a bucket that refilled meanwhile from now', async () => {
    const b = budget();
    const tenant = freshTenant();
    const hold = await reserved(b, tenant);
    await b.settle(hold, { inputTokens: 100, outputTokens: 37 }, T0 + 20_000);
    expect((await stored(tenant))?.tat).toBe(T0 + 20_000 + 10_000);
  });

  it('refunds a call that got no answer, and nothing to a bucket that is full again', async () => {
    const b = budget();
    const tenant = freshTenant();
    const [one, two] = [await reserved(b, tenant), await reserved(b, tenant)];
    await b.release(one, T0 + 5);
    expect((await stored(tenant))?.tat).toBe(T0 + 3_700);
    await b.release(two, T0 + 10_000);
    expect((await stored(tenant))?.tat).toBe(T0 + 3_700);
  });

  it('keeps the reservation of a call whose provider reported no usage', async () => {
    const b = budget();
    const tenant = freshTenant();
    const before = counter.snapshot();
    await b.settle(await reserved(b, tenant), { inputTokens: 0, outputTokens: 0 }, T0 + 1);
    expect(counter.since(before)).toMatchObject({ writes: 1 });
    expect((await stored(tenant))?.tat).toBe(T0 + 3_700);
  });
});
