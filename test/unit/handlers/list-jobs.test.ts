import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { encodeCursor } from '../../../lambdas/domain/cursor.js';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  expectFieldErrors,
  expectProblem,
  lambdaContext,
  makeJob,
  OTHER_TENANT,
  TENANT,
} from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/list-jobs.js');
const ddb = mockClient(DynamoDBDocumentClient);

const list = (query: Record<string, string> | null, tenant: string = TENANT) =>
  handler(apiEvent({ path: '/v1/jobs', query, tenant }), lambdaContext);

const ids = [
  'job_00000000000000000000000003',
  'job_00000000000000000000000002',
  'job_00000000000000000000000001',
];
const items = ids.map((id, i) => ({
  ...makeJob({ id, createdAt: `2025-01-0${3 - i}T00:00:00.000Z` }),
  PK: jobPk(TENANT, id),
  SK: 'JOB',
  GSI1PK: `T#${TENANT}`,
  GSI1SK: `2025-01-0${3 - i}T00:00:00.000Z#${id}`,
  ttl: 4_070_908_800,
  fingerprint: 'fp',
  completedSteps: 0,
}));

beforeEach(() => {
  ddb.reset();
});

describe('GET /v1/jobs', () => {
  it('200 with items and a null nextCursor at the end; default limit 20', async () => {
    ddb.on(QueryCommand).resolves({ Items: items });

    const res = await list(null);

    expect(res.statusCode).toBe(200);
    const body = bodyOf(res) as { items: Array<Record<string, unknown>>; nextCursor: unknown };
    expect(body.items.map((j) => j.id)).toEqual(ids);
    expect(body.nextCursor).toBeNull();
    expect(body.items[0]).not.toHaveProperty('PK');
    expect(body.items[0]).toHaveProperty('links');
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      Limit: 20,
      ScanIndexForward: false,
      ExpressionAttributeValues: { ':pk': `T#${TENANT}` },
    });
  });

  it('passes limit and status to the query', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const res = await list({ limit: '7', status: 'failed' });
    expect(res.statusCode).toBe(200);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      Limit: 7,
      ExpressionAttributeValues: { ':status': 'failed' },
    });
  });

  it('nextCursor round-trips into the next query, rebuilt for the same tenant', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: items.slice(0, 2),
        LastEvaluatedKey: { GSI1PK: `T#${TENANT}`, GSI1SK: items[1]?.GSI1SK, PK: items[1]?.PK, SK: 'JOB' },
      })
      .resolvesOnce({ Items: items.slice(2) });

    const first = bodyOf(await list({ limit: '2' })) as { items: Array<{ id: string }>; nextCursor: string };
    expect(first.items.map((j) => j.id)).toEqual(ids.slice(0, 2));
    expect(typeof first.nextCursor).toBe('string');
    expect(first.nextCursor).toBe(
      encodeCursor(TENANT, { createdAt: '2025-01-02T00:00:00.000Z', id: ids[1] as string }),
    );

    const second = bodyOf(await list({ limit: '2', cursor: first.nextCursor })) as {
      items: Array<{ id: string }>;
      nextCursor: unknown;
    };
    expect(second.items.map((j) => j.id)).toEqual(ids.slice(2));
    expect(second.nextCursor).toBeNull();
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({
      GSI1PK: `T#${TENANT}`,
      GSI1SK: `2025-01-02T00:00:00.000Z#${ids[1]}`,
      PK: `T#${TENANT}#J#${ids[1]}`,
      SK: 'JOB',
    });
  });

  it('items omit input and result (fetch the job for them)', async () => {
    const done = { ...items[0], status: 'succeeded', input: { secret: 'in' }, result: { big: 'out' } };
    ddb.on(QueryCommand).resolves({ Items: [done] });
    const body = bodyOf(await list(null)) as { items: Array<Record<string, unknown>> };
    expect(body.items[0]).not.toHaveProperty('input');
    expect(body.items[0]).not.toHaveProperty('result');
    expect(body.items[0]).toMatchObject({ id: ids[0], status: 'succeeded', metadata: {} });
  });

  it('ends a page before it passes 1 MiB, and its cursor continues right after the last job shown', async () => {
    // 100 jobs of 300 KB each (legacy items, or input requests near their caps): 30 MB unbounded.
    const big = Array.from({ length: 100 }, (_, i) => {
      const id = `job_${String(i).padStart(26, '0')}`;
      const createdAt = new Date(Date.UTC(2025, 0, 1, 0, 0, 100 - i)).toISOString();
      return {
        ...makeJob({ id, createdAt, metadata: { pad: 'p'.repeat(300_000) } }),
        PK: jobPk(TENANT, id),
        SK: 'JOB',
      };
    });
    ddb.on(QueryCommand).resolves({ Items: big });

    const res = await list({ limit: '100' });
    const body = bodyOf(res) as { items: Array<{ id: string; createdAt: string }>; nextCursor: string };
    expect(Buffer.byteLength(res.body)).toBeLessThanOrEqual(1024 * 1024 + 1024);
    expect(body.items.map((j) => j.id)).toEqual(big.slice(0, 3).map((j) => j.id));
    const last = big[2]!;
    expect(body.nextCursor).toBe(encodeCursor(TENANT, { createdAt: last.createdAt, id: last.id }));

    await list({ limit: '100', cursor: body.nextCursor });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toMatchObject({
      GSI1SK: `${last.createdAt}#${last.id}`,
      PK: jobPk(TENANT, last.id),
    });
  });

  it('always returns at least one job, however large', async () => {
    const huge = { ...items[0], metadata: { pad: 'p'.repeat(1_200_000) } };
    ddb.on(QueryCommand).resolves({ Items: [huge, items[1]!] });
    const body = bodyOf(await list(null)) as { items: Array<{ id: string }>; nextCursor: string | null };
    expect(body.items.map((j) => j.id)).toEqual([ids[0]]);
    expect(body.nextCursor).not.toBeNull();
  });

  it.each([['0'], ['101'], ['abc'], ['1.5'], ['-1'], ['']])('400 for limit=%s', async (limit) => {
    const body = expectProblem(await list({ limit }), 400, 'validation_failed');
    expect(expectFieldErrors(body).some((e) => e.path === 'query.limit')).toBe(true);
    expect(ddb.calls()).toHaveLength(0);
  });

  it.each([['1'], ['100']])('accepts limit=%s', async (limit) => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect((await list({ limit })).statusCode).toBe(200);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.Limit).toBe(Number(limit));
  });

  it.each([['done'], ['PENDING'], ['']])('400 for status=%s', async (status) => {
    const body = expectProblem(await list({ status }), 400, 'validation_failed');
    expect(expectFieldErrors(body).some((e) => e.path === 'query.status')).toBe(true);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('400 for an unknown query parameter', async () => {
    expectProblem(await list({ page: '2' }), 400, 'validation_failed');
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    [
      'edited',
      `${encodeCursor(TENANT, { createdAt: '2025-01-02T00:00:00.000Z', id: ids[1] as string }).slice(0, -3)}AAA`,
    ],
    [
      "another tenant's",
      encodeCursor(OTHER_TENANT, { createdAt: '2025-01-02T00:00:00.000Z', id: ids[1] as string }),
    ],
  ])('400 invalid_cursor for a %s cursor, without querying', async (_name, cursor) => {
    const body = expectProblem(await list({ cursor }), 400, 'invalid_cursor');
    expect(expectFieldErrors(body)[0]?.path).toBe('query.cursor');
    expect(ddb.calls()).toHaveLength(0);
  });
});
