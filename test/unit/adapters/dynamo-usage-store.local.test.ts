import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { DynamoUsageStore } from '../../../lambdas/adapters/dynamo-usage-store.js';
import { newJobId } from '../../../lambdas/domain/idempotency.js';
import { newJob } from '../../../lambdas/domain/job.js';
import type { Checkpoint } from '../../../lambdas/domain/job-store.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';
import { stepTally } from '../../../lambdas/domain/usage.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-usage-test';
const NOW = new Date('2026-12-05T10:00:00.000Z');
const DAY = '2026-12-05';

let doc: DynamoDBDocumentClient;
let jobs: DynamoJobStore;
let usage: DynamoUsageStore;
let seq = 0;
const freshTenant = () => `usage-${process.pid}-${++seq}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  jobs = new DynamoJobStore(TABLE, client);
  usage = new DynamoUsageStore(TABLE, client);
});

async function runningJob(tenant: string) {
  const job = newJob(
    newJobId(NOW.getTime()),
    tenant,
    { agent: 'echo', input: {}, timeoutSeconds: 900 },
    NOW,
    liveExpiry(NOW, 900),
  );
  await jobs.create(job, 'fp', NOW);
  await doc.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { PK: jobPk(tenant, job.id), SK: 'JOB' },
      UpdateExpression: 'SET #status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':running': 'running' },
    }),
  );
  return job.id;
}

const call = (model: string) => ({ model, usage: { inputTokens: 11, outputTokens: 7 } });

function step(completedSteps: number, tally: ReturnType<typeof stepTally>, day = DAY): Checkpoint {
  return {
    completedSteps,
    progress: { fraction: 0, step: completedSteps, message: null },
    state: {},
    ...(tally ? { tally: { day, counts: tally } } : {}),
  };
}

describe('daily usage counters', () => {
  it("count a job and its answered calls once, with the step's write, however often a step is retried", async () => {
    const tenant = freshTenant();
    const id = await runningJob(tenant);
    expect(await jobs.checkpoint(tenant, id, step(1, stepTally(true, call('gpt-4o-mini'))), NOW)).toBe(true);
    // The same step again (a retried invocation after its write landed): refused, nothing counted.
    expect(await jobs.checkpoint(tenant, id, step(1, stepTally(true, call('gpt-4o-mini'))), NOW)).toBe(false);
    expect(await jobs.succeed(tenant, id, 'ok', step(2, stepTally(false, call('gpt-4o-mini'))), NOW)).toBe(
      true,
    );
    expect(await jobs.succeed(tenant, id, 'ok', step(2, stepTally(false, call('gpt-4o-mini'))), NOW)).toBe(
      false,
    );

    expect(await usage.days(tenant, { from: DAY, to: DAY }, NOW)).toEqual([
      { date: DAY, jobs: 1, modelCalls: 2, inputTokens: 22, outputTokens: 14, costUsd: 0.0000117 },
    ]);
  });

  it('count nothing for a job cancelled before its step was recorded', async () => {
    const tenant = freshTenant();
    const id = await runningJob(tenant);
    await jobs.cancel(tenant, id, NOW);
    expect(await jobs.checkpoint(tenant, id, step(1, stepTally(true, call('gpt-4o-mini'))), NOW)).toBe(false);
    expect(await usage.days(tenant, { from: DAY, to: DAY }, NOW)).toEqual([]);
  });

  it('sum concurrent steps of many jobs exactly, priced and unpriced', async () => {
    const tenant = freshTenant();
    const ids = await Promise.all(Array.from({ length: 8 }, () => runningJob(tenant)));
    const landed = await Promise.all(
      ids.map((id, i) =>
        jobs.checkpoint(
          tenant,
          id,
          step(1, stepTally(true, call(i === 0 ? 'scripted-model' : 'gpt-4o-mini'))),
          NOW,
        ),
      ),
    );
    expect(landed.every(Boolean)).toBe(true);
    expect(await usage.days(tenant, { from: DAY, to: DAY }, NOW)).toEqual([
      { date: DAY, jobs: 8, modelCalls: 8, inputTokens: 88, outputTokens: 56, costUsd: null },
    ]);
  });

  it('answer the days of the range with activity, oldest first, and no expired ones', async () => {
    const tenant = freshTenant();
    const id = await runningJob(tenant);
    for (const [n, day] of ['2026-12-01', '2026-12-03', '2026-12-06'].entries()) {
      await jobs.checkpoint(tenant, id, step(n + 1, stepTally(n === 0, call('gpt-4o-mini')), day), NOW);
    }
    // A day whose TTL passed but that DynamoDB has not deleted yet.
    await doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: { PK: `TENANT#${tenant}`, SK: 'USAGE#2026-12-02', day: '2026-12-02', jobs: 5, ttl: 1 },
      }),
    );
    const days = await usage.days(tenant, { from: '2026-12-01', to: '2026-12-05' }, NOW);
    expect(days.map((d) => [d.date, d.jobs])).toEqual([
      ['2026-12-01', 1],
      ['2026-12-03', 0],
    ]);
  });
});
