import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { DomainError, NotFoundError } from '../../../lambdas/domain/errors.js';
import { idempotencyKeyId, newJobId } from '../../../lambdas/domain/idempotency.js';
import type { Job, JobStatus } from '../../../lambdas/domain/job.js';
import { newJob, toJobSummary } from '../../../lambdas/domain/job.js';
import { eventsOfWrite } from '../../../lambdas/domain/job-events.js';
import { liveExpiry, toTtl } from '../../../lambdas/domain/retention.js';
import { useJobsTable } from '../support/dynamodb-local.js';
import { rejection } from '../support/fixtures.js';

const TABLE = 'agent-jobs-local-test';
const DAY = 86_400_000;
const T0 = new Date('2025-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let doc: DynamoDBDocumentClient;
let store: DynamoJobStore;
let tenantCounter = 0;

/** Each test works in a tenant of its own, so no test sees another's data. */
const freshTenant = () => `t${++tenantCounter}-${process.pid}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
});

function job(tenant: string, createdAt: Date, opts: { input?: unknown; timeoutSeconds?: number } = {}): Job {
  const timeoutSeconds = opts.timeoutSeconds ?? 900;
  return newJob(
    newJobId(createdAt.getTime()),
    tenant,
    { agent: 'echo', input: (opts.input ?? { message: 'hi' }) as Job['input'], timeoutSeconds },
    createdAt,
    liveExpiry(createdAt, timeoutSeconds),
  );
}

async function rawItem(tenant: string, id: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: TABLE, Key: { PK: jobPk(tenant, id), SK: 'JOB' } }),
  );
  return Item;
}

/** The workflow's MarkRunning task does this with a service integration; the store has no method for it. */
async function markRunning(tenant: string, id: string, startedAt: Date) {
  await doc.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { PK: jobPk(tenant, id), SK: 'JOB' },
      UpdateExpression: 'SET #status = :running, startedAt = :at, updatedAt = :at',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':running': 'running', ':at': startedAt.toISOString() },
    }),
  );
}

describe('DynamoJobStore on DynamoDB Local', () => {
  it('creates a job and reads it back without internal attributes', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);

    expect(await store.create(j, 'fp-1', T0)).toEqual({ job: j, created: true, fingerprint: 'fp-1' });
    expect(await store.get(tenant, j.id, at(1))).toEqual(j);

    const item = await rawItem(tenant, j.id);
    expect(item).toMatchObject({
      PK: `T#${tenant}#J#${j.id}`,
      SK: 'JOB',
      GSI1PK: `T#${tenant}`,
      GSI1SK: `${j.createdAt}#${j.id}`,
      ttl: toTtl(j.expiresAt),
      fingerprint: 'fp-1',
      completedSteps: 0,
    });
  });

  it('replays the job an Idempotency-Key created and leaves its item untouched', async () => {
    const tenant = freshTenant();
    const key = idempotencyKeyId(tenant, 'k1');
    const first = job(tenant, T0);
    await store.create(first, 'fp-1', T0, key);
    const retry = job(tenant, at(30), { input: { message: 'other' } });

    expect(await store.create(retry, 'fp-2', at(30), key)).toEqual({
      job: first,
      created: false,
      fingerprint: 'fp-1',
    });
    expect(await rawItem(tenant, retry.id)).toBeUndefined();
    expect(await rawItem(tenant, first.id)).toMatchObject({
      fingerprint: 'fp-1',
      createdAt: first.createdAt,
      input: { message: 'hi' },
    });
  });

  it('racing duplicates of one key create one job and all get it', async () => {
    const tenant = freshTenant();
    const key = idempotencyKeyId(tenant, 'race');
    const jobs = Array.from({ length: 6 }, () => job(tenant, T0));

    const outcomes = await Promise.allSettled(jobs.map((j) => store.create(j, 'fp', T0, key)));

    const created = outcomes.filter((o) => o.status === 'fulfilled' && o.value.created);
    expect(created).toHaveLength(1);
    const winner = created[0]?.status === 'fulfilled' ? created[0].value.job.id : undefined;
    for (const o of outcomes) {
      if (o.status === 'fulfilled') expect(o.value.job.id).toBe(winner);
      else expect((o.reason as DomainError).code).toBe('idempotency_key_in_use');
    }
  });

  it('a key reused after its job expired creates a job with its own id, execution and empty log', async () => {
    const tenant = freshTenant();
    const key = idempotencyKeyId(tenant, 'k1');
    const old = job(tenant, T0, { timeoutSeconds: 60 });
    await store.create(old, 'fp-old', T0, key);
    await store.putEvent(tenant, old.id, { seq: 1, type: 'job.created', at: old.createdAt, data: {} }, 1);
    const later = new Date(new Date(old.expiresAt).getTime() + DAY);

    const out = await store.create(job(tenant, later), 'fp-new', later, key);

    expect(out.created).toBe(true);
    expect(out.job.id).not.toBe(old.id);
    expect(out.job.executionName).toBe(out.job.id);
    expect(await store.get(tenant, old.id, later)).toBeUndefined();
    expect(await store.listEvents(tenant, out.job.id, { after: 0, limit: 10, since: '' })).toEqual({
      events: [],
      next: undefined,
    });
    expect(
      await store.putEvent(
        tenant,
        out.job.id,
        { seq: 1, type: 'job.created', at: out.job.createdAt, data: {} },
        1,
      ),
    ).toBe(true);
    // Replays now find the new job.
    expect((await store.create(job(tenant, later), 'fp-new', later, key)).job.id).toBe(out.job.id);
  });

  it('a key whose job TTL already deleted creates a new job, never the old id again', async () => {
    const tenant = freshTenant();
    const key = idempotencyKeyId(tenant, 'k2');
    const old = job(tenant, T0);
    await store.create(old, 'fp', T0, key);
    await doc.send(new DeleteCommand({ TableName: TABLE, Key: { PK: jobPk(tenant, old.id), SK: 'JOB' } }));

    const out = await store.create(job(tenant, at(60)), 'fp', at(60), key);

    expect(out.created).toBe(true);
    expect(out.job.id).not.toBe(old.id);
    expect(await store.get(tenant, out.job.id, at(61))).toEqual(out.job);
  });

  it('get: unknown, foreign and expired jobs are invisible', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0, { timeoutSeconds: 60 });
    await store.create(j, 'fp', T0);

    expect(await store.get(tenant, newJobId(), T0)).toBeUndefined();
    expect(await store.get(freshTenant(), j.id, T0)).toBeUndefined();
    expect(await store.get(tenant, j.id, new Date(j.expiresAt))).toBeUndefined();
    expect(await store.get(tenant, j.id, new Date(new Date(j.expiresAt).getTime() - 1))).toEqual(j);
  });

  it('lists newest first across pages, only the tenant’s own jobs', async () => {
    const tenant = freshTenant();
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      const j = job(tenant, at(i));
      await store.create(j, 'fp', at(i));
      jobs.push(j);
    }
    await store.create(job(freshTenant(), at(100)), 'fp', at(100));
    const newestFirst = [...jobs].reverse();

    const seen: Job[] = [];
    const pageSizes: number[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (let page = 0; page < 5; page++) {
      const out = await store.list(tenant, { limit: 2, after }, at(10));
      seen.push(...out.jobs);
      pageSizes.push(out.jobs.length);
      after = out.next;
      if (!after) break;
    }

    // The list index projects what a listed job shows, nothing more.
    expect(seen.map(toJobSummary)).toEqual(newestFirst.map(toJobSummary));
    expect(pageSizes.slice(0, 3)).toEqual([2, 2, 1]);
    expect(after).toBeUndefined();
  });

  it('filters by status while paging and hides expired jobs', async () => {
    const tenant = freshTenant();
    const jobs: Job[] = [];
    for (let i = 0; i < 6; i++) {
      const j = job(tenant, at(i), { timeoutSeconds: i === 5 ? 1 : 900 });
      await store.create(j, 'fp', at(i));
      jobs.push(j);
    }
    for (const i of [0, 2, 4]) await store.cancel(tenant, jobs[i]?.id as string, at(10));
    const now = at(60 + (30 * DAY) / 1000);

    const cancelled = await store.list(tenant, { limit: 10, status: 'cancelled' }, at(20));
    expect(cancelled.jobs.map((j) => j.id)).toEqual([jobs[4]?.id, jobs[2]?.id, jobs[0]?.id]);
    expect(cancelled.jobs.every((j) => j.status === 'cancelled')).toBe(true);

    const pending = await store.list(tenant, { limit: 10, status: 'pending' }, at(20));
    expect(pending.jobs.map((j) => j.id)).toEqual([jobs[5]?.id, jobs[3]?.id, jobs[1]?.id]);

    // 30 days + 61 s on: cancelled jobs (7 days) and job 5 (1 s timeout + 30-day backstop) expired.
    const live = await store.list(tenant, { limit: 10 }, now);
    expect(live.jobs.map((j) => j.id)).toEqual([jobs[3]?.id, jobs[1]?.id]);
  });

  it('pages with a status filter without losing or repeating jobs', async () => {
    const tenant = freshTenant();
    const jobs: Job[] = [];
    for (let i = 0; i < 7; i++) {
      const j = job(tenant, at(i));
      await store.create(j, 'fp', at(i));
      jobs.push(j);
    }
    for (const i of [1, 2, 4, 6]) await store.cancel(tenant, jobs[i]?.id as string, at(10));

    const ids: string[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (let page = 0; page < 6; page++) {
      const out = await store.list(tenant, { limit: 1, status: 'cancelled', after }, at(20));
      ids.push(...out.jobs.map((j) => j.id));
      after = out.next;
      if (!after) break;
    }
    expect(ids).toEqual([6, 4, 2, 1].map((i) => jobs[i]?.id));
  });

  it('cancel: live -> cancelled, idempotent, 409 when terminal, 404 when unknown or expired', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);

    const cancelled = await store.cancel(tenant, j.id, at(5));
    expect(cancelled).toMatchObject({
      id: j.id,
      status: 'cancelled',
      completedAt: at(5).toISOString(),
      updatedAt: at(5).toISOString(),
      expiresAt: new Date(at(5).getTime() + 7 * DAY).toISOString(),
    });
    expect(cancelled).not.toHaveProperty('PK');
    expect(await rawItem(tenant, j.id)).toMatchObject({ ttl: toTtl(cancelled.expiresAt) });

    expect(await store.cancel(tenant, j.id, at(9))).toEqual(cancelled);

    const done = job(tenant, at(1));
    await store.create(done, 'fp', at(1));
    await markRunning(tenant, done.id, at(2));
    expect(
      await store.succeed(
        tenant,
        done.id,
        { ok: 1 },
        { completedSteps: 1, progress: { fraction: 1, step: 1, message: null } },
        at(3),
      ),
    ).toBe(true);
    const terminal = await rejection(store.cancel(tenant, done.id, at(4)));
    expect(terminal).toBeInstanceOf(DomainError);
    expect((terminal as DomainError).code).toBe('job_terminal');

    expect(await rejection(store.cancel(tenant, newJobId(), at(4)))).toBeInstanceOf(NotFoundError);
    expect(await rejection(store.cancel(freshTenant(), j.id, at(4)))).toBeInstanceOf(NotFoundError);
    expect(await rejection(store.cancel(tenant, j.id, new Date(at(5).getTime() + 8 * DAY)))).toBeInstanceOf(
      NotFoundError,
    );
  });

  it('checkpoint and succeed land once per step and only while running', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    const progress = (step: number) => ({ fraction: step / 3, step, message: `step ${step} of 3` });

    expect(
      await store.checkpoint(
        tenant,
        j.id,
        { completedSteps: 1, progress: progress(1), state: { asked: false } },
        at(1),
      ),
    ).toBe(false);

    await markRunning(tenant, j.id, at(1));
    expect(
      await store.checkpoint(
        tenant,
        j.id,
        { completedSteps: 1, progress: progress(1), state: { asked: false } },
        at(2),
      ),
    ).toBe(true);
    expect(
      await store.checkpoint(
        tenant,
        j.id,
        { completedSteps: 1, progress: progress(1), state: { asked: false } },
        at(3),
      ),
    ).toBe(false);
    expect(
      await store.checkpoint(
        tenant,
        j.id,
        { completedSteps: 3, progress: progress(3), state: { asked: false } },
        at(3),
      ),
    ).toBe(false);
    expect(
      await store.checkpoint(
        tenant,
        j.id,
        { completedSteps: 2, progress: progress(2), state: { asked: true } },
        at(4),
      ),
    ).toBe(true);

    const snap = await store.loadForStep(tenant, j.id);
    expect(snap).toMatchObject({ completedSteps: 2, state: { asked: true }, answer: undefined });
    expect(snap?.job).toMatchObject({
      status: 'running',
      progress: progress(2),
      updatedAt: at(4).toISOString(),
    });

    const final = { fraction: 1, step: 3, message: 'step 3 of 3' };
    expect(
      await store.succeed(
        tenant,
        j.id,
        { message: 'hi', steps: 3 },
        { completedSteps: 3, progress: final },
        at(5),
      ),
    ).toBe(true);
    expect(
      await store.succeed(
        tenant,
        j.id,
        { message: 'hi', steps: 3 },
        { completedSteps: 3, progress: final },
        at(6),
      ),
    ).toBe(false);

    const done = await store.get(tenant, j.id, at(6));
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { message: 'hi', steps: 3 },
      progress: final,
      completedAt: at(5).toISOString(),
      expiresAt: new Date(at(5).getTime() + 7 * DAY).toISOString(),
    });
    const item = await rawItem(tenant, j.id);
    expect(item).not.toHaveProperty('agentState');
    expect(item).toMatchObject({ completedSteps: 3, ttl: toTtl(new Date(at(5).getTime() + 7 * DAY)) });
  });

  it('announces step events in small writes, and a later attempt of the step knows they were announced', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    await markRunning(tenant, j.id, at(1));
    expect((await store.loadForStep(tenant, j.id))!.eventsStep).toBeUndefined();
    const text = 'x'.repeat(150_000);
    const args = { note: 'a'.repeat(300_000) };
    const landed = await store.appendEvents(
      tenant,
      j.id,
      1,
      [
        { type: 'job.output.delta', data: { step: 1, text } },
        { type: 'job.tool_call', data: { step: 1, id: 'c1', name: 'f', arguments: args } },
      ],
      at(2),
    );
    expect(landed).toBe(true);
    const item = (await rawItem(tenant, j.id))!;
    // Three writes: the text in three deltas, the last sharing its write with the tool call.
    expect(item.eventSeq).toBe(1 + 4);
    expect(item.lastEventTypes).toEqual(['job.output.delta', 'job.tool_call']);
    const [lastDelta, toolCall] = item.lastEventData as [{ text: string }, unknown];
    expect(Buffer.byteLength(JSON.stringify(item.lastEventData))).toBeLessThan(64 * 1024);
    expect(text.endsWith(lastDelta.text)).toBe(true);
    expect(toolCall).toEqual({
      step: 1,
      id: 'c1',
      name: 'f',
      arguments: null,
      argumentsTruncated: { bytes: JSON.stringify(args).length },
    });
    expect((await store.loadForStep(tenant, j.id))!.eventsStep).toBe(1);
    // The step's own write drops the copy: later writes of the item do not carry it.
    const progress = { fraction: 0.5, step: 1, message: null };
    expect(await store.checkpoint(tenant, j.id, { completedSteps: 1, progress, state: {} }, at(3))).toBe(
      true,
    );
    expect((await rawItem(tenant, j.id))!.lastEventData).toBeUndefined();

    expect(
      await store.fail(tenant, j.id, { code: 'agent_error', message: 'x', retryable: false }, at(3)),
    ).toBe(true);
    await store.redrive(tenant, j.id, at(4));
    expect((await rawItem(tenant, j.id))!.eventsStep).toBeUndefined();
  });

  it("announces a step's last events with the step's own write, ahead of its own events", async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    await markRunning(tenant, j.id, at(1));
    const progress = { fraction: 0.5, step: 1, message: null };
    const toolCall = { step: 1, id: 'c1', name: 'f', arguments: { q: 1 } };
    const events = [
      { type: 'job.output.delta' as const, data: { step: 1, text: 'Looking.' } },
      { type: 'job.tool_call' as const, data: toolCall },
    ];
    expect(
      await store.checkpoint(tenant, j.id, { completedSteps: 1, progress, state: {}, events }, at(2)),
    ).toBe(true);
    const { write } = (await store.latestWrite(tenant, j.id))!;
    expect(write.previousSeq).toBe(1);
    expect(eventsOfWrite(write).map(({ seq, type, data }) => ({ seq, type, data }))).toEqual([
      { seq: 2, type: 'job.output.delta', data: { step: 1, text: 'Looking.' } },
      { seq: 3, type: 'job.tool_call', data: toolCall },
      { seq: 4, type: 'job.progress', data: { ...progress, data: null } },
    ]);

    // Text beyond one write's bound: the first part in a write of its own, the rest with the success.
    const text = 'y'.repeat(100_000);
    const done = { fraction: 1, step: 2, message: null };
    const last = [{ type: 'job.output.delta' as const, data: { step: 2, text } }];
    expect(
      await store.succeed(tenant, j.id, 'ok', { completedSteps: 2, progress: done, events: last }, at(3)),
    ).toBe(true);
    const item = (await rawItem(tenant, j.id))!;
    expect(item.eventSeq).toBe(4 + 4);
    expect(item.lastEventTypes).toEqual(['job.output.delta', 'job.progress', 'job.succeeded']);
    expect(text.endsWith((item.lastEventData as [{ text: string }])[0].text)).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(item.lastEventData))).toBeLessThan(64 * 1024);
    expect(item.eventsStep).toBe(2);
  });

  it("writes none of a step's last events when the job no longer runs", async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    await markRunning(tenant, j.id, at(1));
    await store.cancel(tenant, j.id, at(2));
    const progress = { fraction: 0.5, step: 1, message: null };
    const events = [{ type: 'job.output.delta' as const, data: { step: 1, text: 'z'.repeat(100_000) } }];
    expect(
      await store.checkpoint(tenant, j.id, { completedSteps: 1, progress, state: {}, events }, at(3)),
    ).toBe(false);
    expect((await rawItem(tenant, j.id))!.lastEventTypes).toEqual(['job.cancelled']);
  });

  it('an answer keeps the wait token on the item until the next step writes, so the wait can be resumed again', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    await markRunning(tenant, j.id, at(1));
    const progress = { fraction: 0.5, step: 1, message: null };
    await store.requestInput(
      tenant,
      j.id,
      { completedSteps: 1, progress, state: {} },
      { prompt: 'ok?' },
      at(2),
    );
    // What the workflow's WaitForInput task writes.
    await doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { PK: jobPk(tenant, j.id), SK: 'JOB' },
        UpdateExpression: 'SET inputToken = :token',
        ExpressionAttributeValues: { ':token': 'token-1' },
      }),
    );
    expect(await store.answeredWait(tenant, j.id)).toBeUndefined();

    await store.submitInput(tenant, j.id, { ok: true }, at(3));

    expect(await store.answeredWait(tenant, j.id)).toEqual({
      token: 'token-1',
      answeredAt: at(3).toISOString(),
    });
    expect((await store.get(tenant, j.id, at(3)))?.status).toBe('running');
    expect(await store.get(tenant, j.id, at(3))).not.toHaveProperty('answeredAt');
    expect(
      await store.checkpoint(tenant, j.id, { completedSteps: 2, progress, state: { answered: true } }, at(4)),
    ).toBe(true);
    expect(await store.answeredWait(tenant, j.id)).toBeUndefined();
    expect(await rawItem(tenant, j.id)).not.toHaveProperty('inputToken');
  });

  it('a step write after a cancel is refused', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    await markRunning(tenant, j.id, at(1));
    await store.cancel(tenant, j.id, at(2));

    expect(
      await store.checkpoint(
        tenant,
        j.id,
        { completedSteps: 1, progress: { fraction: 0.5, step: 1, message: null }, state: null },
        at(3),
      ),
    ).toBe(false);
    expect(
      await store.succeed(
        tenant,
        j.id,
        1,
        { completedSteps: 1, progress: { fraction: 1, step: 1, message: null } },
        at(3),
      ),
    ).toBe(false);
    expect((await store.get(tenant, j.id, at(3)))?.status).toBe('cancelled');
  });

  it('fail moves a live job to failed once, with 30-day retention', async () => {
    const tenant = freshTenant();
    const j = job(tenant, T0);
    await store.create(j, 'fp', T0);
    const error = { code: 'agent_error' as const, message: 'boom', retryable: false };

    expect(await store.fail(tenant, j.id, error, at(5))).toBe(true);
    expect(await store.fail(tenant, j.id, { ...error, code: 'internal_error' }, at(6))).toBe(false);
    expect(await store.fail(tenant, newJobId(), error, at(6))).toBe(false);

    expect(await store.get(tenant, j.id, at(7))).toMatchObject({
      status: 'failed',
      error,
      completedAt: at(5).toISOString(),
      expiresAt: new Date(at(5).getTime() + 30 * DAY).toISOString(),
    });
    const cancel = await rejection(store.cancel(tenant, j.id, at(8)));
    expect((cancel as DomainError).code).toBe('job_terminal');
  });

  it.each(['pending', 'running'] as JobStatus[])(
    'loadForStep returns a fresh %s job with no checkpoint',
    async (status) => {
      const tenant = freshTenant();
      const j = job(tenant, T0);
      await store.create(j, 'fp', T0);
      if (status === 'running') await markRunning(tenant, j.id, at(1));
      const snap = await store.loadForStep(tenant, j.id);
      expect(snap).toEqual({
        job:
          status === 'running'
            ? { ...j, status, startedAt: at(1).toISOString(), updatedAt: at(1).toISOString() }
            : j,
        state: null,
        answer: undefined,
        completedSteps: 0,
      });
      expect(await store.loadForStep(tenant, newJobId())).toBeUndefined();
    },
  );
});
