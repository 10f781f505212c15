import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_SK, jobPk, TABLE_KEYS } from '../lambdas/config/table.js';
import { newJob } from '../lambdas/domain/job.js';
import { liveExpiry } from '../lambdas/domain/retention.js';
import { executionArn } from '../lambdas/config/workflow.js';
import { createTable, type TableProps } from '../lambdas/local/provision.js';
import { LOCAL_REGION } from '../lambdas/local/template.js';
import { benchApi, echoJob } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { requestsDuring } from './ddb-counter.js';
import { runForWindow } from './pool.js';
import { executionSettled } from './settle.js';
import { percentile, round, timed } from './stats.js';

const CONCURRENCY = 32;
const STEPS = 3;
/** How often a throughput worker polls: a client honouring Retry-After would poll far less. */
const THROUGHPUT_POLL_MS = 25;

/**
 * Whole jobs in the local stack: end-to-end overhead of a 3-step job that does no work itself,
 * completed jobs and polls per second at concurrency 32, state transitions per job (from the
 * execution history), and the DynamoDB requests and item size a job costs (for the cost model).
 */
export async function benchJob(ctx: BenchContext): Promise<Figures> {
  const api = benchApi(ctx.stack.url, ctx.apiKey);
  const sfn = new SFNClient({
    region: LOCAL_REGION,
    endpoint: ctx.stack.endpoints.sfn,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  ctx.log('counting DynamoDB requests and state transitions of one 3-step job...');
  let jobId = '';
  let submit = ctx.counter.snapshot();
  const lifecycle = await requestsDuring(
    ctx.counter,
    async () => {
      const before = ctx.counter.snapshot();
      jobId = (await api.submit(echoJob('lifecycle', STEPS))).id;
      // The submit bench reports the submit itself; the job's figures are what follows it.
      submit = ctx.counter.since(before);
      await executionSettled(ctx, jobId);
    },
    { untilQuiet: true },
  );
  const history = await sfn.send(
    new GetExecutionHistoryCommand({
      executionArn: executionArn(ctx.stack.stateMachineArn, jobId),
      maxResults: 1000,
    }),
  );
  const entered = (history.events ?? []).filter((e) => e.type?.endsWith('StateEntered'));
  const poll = await requestsDuring(ctx.counter, () => api.get(jobId));
  const itemBytes = await storedItemBytes(ctx, jobId);
  ctx.log('measuring the write units of one step of a job with a small and a 100 KB input...');
  const stepUnits = await stepWriteUnits(ctx);

  const samples = ctx.quick ? 12 : 100;
  ctx.log(`timing ${samples} 3-step jobs from POST to a terminal GET...`);
  const overheadMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    const { ms, value } = await timed(async () => {
      const job = await api.submit(echoJob(`overhead ${i}`, STEPS));
      return api.waitForTerminal(job.id, 0);
    });
    if (value.status !== 'succeeded') throw new Error(`job ${value.id} ended ${value.status}`);
    overheadMs.push(ms);
  }

  const windowMs = ctx.quick ? 3_000 : 20_000;
  ctx.log(`running 3-step jobs at concurrency ${CONCURRENCY} for ${windowMs / 1000} s...`);
  const completed = await runForWindow(CONCURRENCY, windowMs, async () => {
    const job = await api.submit(echoJob('throughput', STEPS));
    await api.waitForTerminal(job.id, THROUGHPUT_POLL_MS);
  });
  // Jobs still running after the window would otherwise load the poll measurement.
  await new Promise((r) => setTimeout(r, 1000));

  const pollWindowMs = ctx.quick ? 2_000 : 10_000;
  ctx.log(`polling one job at concurrency ${CONCURRENCY} for ${pollWindowMs / 1000} s...`);
  const polls = await runForWindow(CONCURRENCY, pollWindowMs, () => api.get(jobId));
  sfn.destroy();

  return {
    'job.overheadMs.p50': round(percentile(overheadMs, 50)),
    'job.overheadMs.p99': round(percentile(overheadMs, 99)),
    'job.samples': samples,
    'throughput.jobsPerSec': round(completed / (windowMs / 1000)),
    'throughput.concurrency': CONCURRENCY,
    'poll.rps': round(polls / (pollWindowMs / 1000)),
    'sfn.transitionsPerJob': entered.length,
    // Everything after the submit: stream consumers, the workflow's Lambdas and its DynamoDB tasks.
    'job.ddbWrites': lifecycle.writes - submit.writes,
    'job.ddbWriteUnits': lifecycle.writeUnits - submit.writeUnits,
    'job.ddbReads': lifecycle.reads - submit.reads,
    'job.ddbConsistentReads': lifecycle.consistentReads - submit.consistentReads,
    'poll.ddbReads': poll.reads,
    'poll.ddbConsistentReads': poll.consistentReads,
    'job.itemBytes': itemBytes,
    'job.stepWriteUnits.smallInput': stepUnits.small,
    'job.stepWriteUnits.largeInput': stepUnits.large,
  };
}

const LARGE_INPUT_BYTES = 100 * 1024;

/**
 * Write units (table and indexes, as DynamoDB reports them) of one step's checkpoint of a running
 * job, for a small and a 100 KB input. The jobs are written by the store into a copy of the jobs
 * table (same keys and indexes, no stream, so no execution runs them) and moved to running as
 * the workflow's MarkRunning does; the checkpoint is the write every step of a job makes.
 */
async function stepWriteUnits(ctx: BenchContext): Promise<{ small: number; large: number }> {
  const table = await jobsTableCopy(ctx);
  const { DynamoJobStore, documentClient } = await import('../lambdas/adapters/dynamo-job-store.js');
  const { largeValueStoreFromEnv } = await import('../lambdas/adapters/s3-large-value-store.js');
  const store = new DynamoJobStore(table, documentClient, undefined, largeValueStoreFromEnv());
  const oneStep = async (message: string) => {
    const now = new Date();
    const id = `job_stepunits${message.length}`;
    const job = newJob(
      id,
      'bench',
      { agent: 'echo', input: { message }, timeoutSeconds: 900 },
      now,
      liveExpiry(now, 900),
    );
    await store.create(job, 'bench', now);
    await documentClient.send(
      new UpdateCommand({
        TableName: table,
        Key: { [TABLE_KEYS.partition]: jobPk('bench', id), [TABLE_KEYS.sort]: JOB_SK },
        UpdateExpression: 'SET #status = :running, startedAt = :at',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':running': 'running', ':at': now.toISOString() },
      }),
    );
    const progress = { fraction: 1 / 3, step: 1, message: 'step 1 of 3' };
    const step = () =>
      store.checkpoint('bench', id, { completedSteps: 1, progress, state: { asked: false } }, new Date());
    return (await requestsDuring(ctx.counter, step)).writeUnits;
  };
  return { small: await oneStep('small input'), large: await oneStep('x'.repeat(LARGE_INPUT_BYTES)) };
}

/** A table with the jobs table's keys and indexes as the template defines them, without a stream. */
async function jobsTableCopy(ctx: BenchContext): Promise<string> {
  const [, resource] = Object.entries(ctx.stack.template.Resources).find(
    ([, r]) => r.Type === 'AWS::DynamoDB::Table',
  )!;
  const { StreamSpecification: _noStream, ...props } = resource.Properties as unknown as TableProps;
  const TableName = `bench-step-writes-${Date.now()}`;
  await createTable(ctx.dynamo, TableName, props);
  return TableName;
}

/** The finished job item's size, approximated by its JSON length (DynamoDB bills writes per KB). */
export async function storedItemBytes(ctx: BenchContext, jobId: string): Promise<number> {
  const { jobPk } = await import('../lambdas/adapters/dynamo-job-store.js');
  const tenant = ctx.stack.tenantKeys.find((t) => t.key === ctx.apiKey)!.tenant;
  const { Item } = await DynamoDBDocumentClient.from(ctx.dynamo).send(
    new GetCommand({ TableName: ctx.stack.tableName, Key: { PK: jobPk(tenant, jobId), SK: JOB_SK } }),
  );
  return Buffer.byteLength(JSON.stringify(Item ?? {}));
}
