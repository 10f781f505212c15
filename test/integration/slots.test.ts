import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { interceptLocalhostDns } from 'fauxqs';
import pLimit from 'p-limit';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { keysMain } from '../../bin/keys-cli.js';
import { tenantsMain } from '../../bin/tenants-cli.js';
import { type OperatorMain, runOperatorCli } from '../fixtures/operator-cli.js';

const dataDir = inject('dataDir');
const base = inject('apiUrl');
const table = inject('handlerEnv').JOBS_TABLE_NAME;

// The sweep runs here as its schedule would run it, with the stack's handler environment.
Object.assign(process.env, inject('handlerEnv'), {
  SWEEP_MIN_AGE_SECONDS: '1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
const { handler: sweep } = await import('../../lambdas/handlers/sweep-jobs.js');
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
// The local SQS's queue URLs are on sqs.<region>.localhost, which only the stack's process resolves.
afterAll(interceptLocalhostDns());

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are asserted field by field
type Body = any;

const cli = (main: OperatorMain, ...args: string[]) => runOperatorCli(main, dataDir, ...args);

let seq = 0;

/** A tenant of its own with these limits (set before its first request, so no cache holds older ones). */
async function tenantWith(label: string, ...limits: string[]) {
  const tenant = `slots-${label}-${Date.now().toString(36)}-${++seq}`;
  expect(
    (await cli(tenantsMain, 'set-limits', tenant, '--requests-per-minute', '10000', ...limits)).code,
  ).toBe(0);
  const created = await cli(keysMain, 'create', '--tenant', tenant, '--json');
  const { key } = JSON.parse(created.out[0]!) as { key: string };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
  };
  return {
    tenant,
    submit: (input: Record<string, unknown>) => call('POST', '/v1/jobs', { agent: 'echo', input }),
    get: (id: string) => call('GET', `/v1/jobs/${id}`),
    cancel: (id: string) => call('POST', `/v1/jobs/${id}/cancel`),
    list: (query: string) => call('GET', `/v1/jobs${query}`),
  };
}

type Tenant = Awaited<ReturnType<typeof tenantWith>>;

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 45_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end)
      throw new Error(`${what}: not reached in ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const terminal = (job: Body) => ['succeeded', 'failed', 'cancelled'].includes(job.status);
const finished = (t: Tenant, id: string) =>
  until(`job ${id} terminal`, async () => (await t.get(id)).body, terminal);

async function cancelAll(t: Tenant, ids: string[]) {
  const limit = pLimit(8);
  await Promise.all(ids.map((id) => limit(() => t.cancel(id))));
}

describe('maxRunningJobs', () => {
  it('runs at most 2 of 10 jobs at once, starting them in submit order', async () => {
    const t = await tenantWith('two', '--max-running-jobs', '2');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await t.submit({ message: `job ${i}`, steps: 2, stepMs: 150 });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    // Sample while they run: never more than two running (or waiting for input) at once.
    let maxRunning = 0;
    let sawQueue = false;
    for (;;) {
      const jobs = await Promise.all(ids.map(async (id) => (await t.get(id)).body));
      maxRunning = Math.max(maxRunning, jobs.filter((j) => j.status === 'running').length);
      sawQueue ||= jobs.some((j) => j.queue?.position >= 1);
      for (const j of jobs) if (j.status !== 'pending') expect(j.queue).toBeUndefined();
      if (jobs.every(terminal)) break;
    }
    expect(maxRunning).toBeGreaterThanOrEqual(1);
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(sawQueue).toBe(true);

    const done = await Promise.all(ids.map(async (id) => (await t.get(id)).body));
    expect(done.map((j) => j.status)).toEqual(Array(10).fill('succeeded'));
    const started = done.map((j) => Date.parse(j.startedAt));
    const completed = done.map((j) => Date.parse(j.completedAt));
    // Submit order is start order.
    expect([...started].sort((a, b) => a - b)).toEqual(started);
    // From the stored times too: when any job started, at most one other was still running.
    for (let k = 0; k < 10; k++) {
      const alongside = done.filter(
        (_, j) => j !== k && started[j]! <= started[k]! && completed[j]! > started[k]!,
      );
      expect(alongside.length).toBeLessThanOrEqual(1);
    }
  });

  it("another tenant's job runs to the end while a tenant with 200 queued jobs still waits", async () => {
    const noisy = await tenantWith('noisy', '--max-running-jobs', '1');
    const quiet = await tenantWith('quiet');
    const limit = pLimit(8);
    const noisyIds = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        limit(async () => {
          const res = await noisy.submit({ message: `n${i}`, steps: 1, stepMs: 30_000 });
          expect(res.status).toBe(202);
          return res.body.id as string;
        }),
      ),
    );
    const noisySlots = async () =>
      (
        await ddb.send(
          new GetCommand({ TableName: table, Key: { PK: `SLOTS#${noisy.tenant}`, SK: 'SLOTS' } }),
        )
      ).Item;
    try {
      await until('the noisy tenant runs one job', noisySlots, (item) => item?.running === 1);
      const mine = (await quiet.submit({ message: 'quiet', steps: 1, stepMs: 0 })).body;
      const done = await finished(quiet, mine.id);
      expect(done.status).toBe('succeeded');
      // Its whole run fitted inside the noisy tenant's first job: it was never behind that queue.
      const after = await noisySlots();
      expect(after).toMatchObject({ running: 1, queued: 199 });
    } finally {
      await cancelAll(noisy, noisyIds);
    }
  });
});

describe('maxQueuedJobs', () => {
  it('refuses a submit over the queue with 429 quota_exceeded and Retry-After, creating nothing', async () => {
    const t = await tenantWith('full', '--max-running-jobs', '1', '--max-queued-jobs', '2');
    const running = (await t.submit({ message: 'long', steps: 1, stepMs: 20_000 })).body;
    await until(
      'the first job runs',
      async () => (await t.get(running.id)).body,
      (j) => j.status === 'running',
    );
    const first = (await t.submit({ message: 'q1' })).body;
    const second = (await t.submit({ message: 'q2' })).body;
    expect((await t.get(first.id)).body.queue).toEqual({ position: 1 });
    expect((await t.get(second.id)).body.queue).toEqual({ position: 2 });
    expect((await t.get(running.id)).body.queue).toBeUndefined();

    const refused = await t.submit({ message: 'one too many' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ status: 429, code: 'quota_exceeded' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    const listed = (await t.list('?limit=10')).body.items.map((j: Body) => j.id);
    expect(listed.sort()).toEqual([running.id, first.id, second.id].sort());

    // A queued job cancelled frees its place: the next submit is accepted, behind the other one.
    expect((await t.cancel(first.id)).body.status).toBe('cancelled');
    await until(
      'the queue shrinks',
      async () => (await t.get(second.id)).body,
      (j) => j.queue?.position === 1,
    );
    const third = await t.submit({ message: 'q3' });
    expect(third.status).toBe(202);
    expect((await t.get(third.body.id)).body.queue).toEqual({ position: 2 });
    await cancelAll(t, [running.id, second.id, third.body.id]);
  });
});

describe('slot repair', () => {
  it('a slot whose release was lost is taken back by one sweep run, and the queued job starts', async () => {
    const t = await tenantWith('leak', '--max-running-jobs', '1');
    const first = (await t.submit({ message: 'first', steps: 1, stepMs: 0 })).body;
    expect((await finished(t, first.id)).status).toBe('succeeded');
    const slotsKey = { PK: `SLOTS#${t.tenant}`, SK: 'SLOTS' };
    await until(
      'the finished job released its slot',
      async () => (await ddb.send(new GetCommand({ TableName: table, Key: slotsKey }))).Item,
      (item) => item?.running === 0,
    );
    // What a lost release leaves: the finished job still holds the tenant's only slot.
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: slotsKey,
        UpdateExpression: 'SET holders.#job = :lease, running = :one',
        ExpressionAttributeNames: { '#job': first.id },
        ExpressionAttributeValues: { ':lease': { at: Date.now(), until: Date.now() + 3_600_000 }, ':one': 1 },
      }),
    );
    const stuck = (await t.submit({ message: 'behind a leaked slot', steps: 1, stepMs: 0 })).body;
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await t.get(stuck.id)).body).toMatchObject({ status: 'pending', queue: { position: 1 } });

    const repaired = await sweep();
    expect(repaired.releasedSlots).toBeGreaterThanOrEqual(1);
    expect(repaired.admitted).toBeGreaterThanOrEqual(1);
    expect((await finished(t, stuck.id)).status).toBe('succeeded');
    const queue = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': `QUEUE#${t.tenant}` },
        ConsistentRead: true,
      }),
    );
    expect(queue.Items).toEqual([]);
  });
});
