import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedWrite, DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { S3LargeValueStore } from '../../../lambdas/adapters/s3-large-value-store.js';
import { newJobId } from '../../../lambdas/domain/idempotency.js';
import { type Job, type JsonValue, newJob } from '../../../lambdas/domain/job.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';
import { type SqsLocal, startSqsLocal } from '../../../lambdas/local/sqs-local.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-values-test';
const BUCKET = 'job-values-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const LARGE_INPUT = { message: 'i'.repeat(100 * 1024) };

let doc: DynamoDBDocumentClient;
let fauxqs: SqsLocal;
let s3: S3Client;
let store: DynamoJobStore;
/** The same table through a function given no value store. */
let withoutValues: DynamoJobStore;
let tenantCounter = 0;
const freshTenant = () => `v${++tenantCounter}-${process.pid}`;

useJobsTable(TABLE, (client) => (doc = client));

beforeAll(async () => {
  fauxqs = await startSqsLocal({ inMemory: true });
  const config = {
    region: 'eu-west-1',
    endpoint: fauxqs.ipEndpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  s3 = new S3Client(config);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  store = new DynamoJobStore(TABLE, doc, undefined, new S3LargeValueStore(BUCKET, async () => s3));
  withoutValues = new DynamoJobStore(TABLE, doc);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await fauxqs?.stop();
});

function job(tenant: string, input: JsonValue, metadata: Record<string, JsonValue> = {}): Job {
  return newJob(
    newJobId(T0.getTime()),
    tenant,
    { agent: 'echo', input, metadata, timeoutSeconds: 900 },
    T0,
    liveExpiry(T0, 900),
  );
}

const rawItem = async (j: Job) =>
  (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: jobPk(j.tenant, j.id), SK: 'JOB' } }))).Item!;

const objectText = async (key: string) =>
  (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();

async function running(j: Job) {
  await store.create(j, 'fp', T0);
  await doc.send(
    new UpdateCommand({
      TableName: TABLE,
      Key: { PK: jobPk(j.tenant, j.id), SK: 'JOB' },
      UpdateExpression: 'SET #status = :running, startedAt = :at',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':running': 'running', ':at': T0.toISOString() },
    }),
  );
}

const progress = (step: number) => ({ fraction: step / 3, step, message: null });

describe('job values outside the job item', () => {
  it('stores a 100 KB input as an object, keeps a reference in a small item, and reads the job back whole', async () => {
    const j = job(freshTenant(), LARGE_INPUT);
    await store.create(j, 'fp', T0);
    const item = await rawItem(j);
    expect(item).not.toHaveProperty('input');
    expect(item.inputRef.key).toMatch(new RegExp(`^jobs/${j.tenant}/${j.id}/input/`));
    expect(JSON.stringify(item).length).toBeLessThan(2_000);
    expect(JSON.parse(await objectText(item.inputRef.key))).toEqual(LARGE_INPUT);
    expect((await store.get(j.tenant, j.id, T0))?.input).toEqual(LARGE_INPUT);
  });

  it('keeps small values in the item and writes no object', async () => {
    const j = job(freshTenant(), { message: 'small' }, { team: 'a' });
    await store.create(j, 'fp', T0);
    const item = await rawItem(j);
    expect(item).toMatchObject({ input: { message: 'small' }, metadata: { team: 'a' } });
    expect(item).not.toHaveProperty('inputRef');
    expect(item).not.toHaveProperty('metadataRef');
  });

  it('shows a referenced value as omitted where it is not read back: stream images and functions without the bucket', async () => {
    const j = job(freshTenant(), LARGE_INPUT);
    await store.create(j, 'fp', T0);
    const fromStream = committedWrite(await rawItem(j), undefined)!.write.job;
    expect(fromStream).toMatchObject({ input: null, omitted: ['input'] });
    expect(await withoutValues.get(j.tenant, j.id, T0)).toMatchObject({ input: null, omitted: ['input'] });
  });

  it('moves agent state out of the item when it grows and back in when it shrinks; a step reads it whole', async () => {
    const j = job(freshTenant(), LARGE_INPUT);
    await running(j);
    const big = { notes: 's'.repeat(50_000) };
    expect(
      await store.checkpoint(j.tenant, j.id, { completedSteps: 1, progress: progress(1), state: big }, T0),
    ).toBe(true);
    const afterBig = await rawItem(j);
    expect(afterBig).not.toHaveProperty('agentState');
    expect(afterBig.agentStateRef.bytes).toBe(JSON.stringify(big).length);
    const snap = await store.loadForStep(j.tenant, j.id);
    expect(snap).toMatchObject({ state: big, completedSteps: 1 });
    expect(snap?.job.input).toEqual(LARGE_INPUT);

    await store.checkpoint(
      j.tenant,
      j.id,
      { completedSteps: 2, progress: progress(2), state: { small: true } },
      T0,
    );
    const afterSmall = await rawItem(j);
    expect(afterSmall.agentState).toEqual({ small: true });
    expect(afterSmall).not.toHaveProperty('agentStateRef');
  });

  it('stores a 1 MiB result and returns it whole; the finished item holds only its reference', async () => {
    const j = job(freshTenant(), { message: 'm' });
    await running(j);
    const result = { text: 'r'.repeat(1024 * 1024) };
    expect(
      await store.succeed(j.tenant, j.id, result, { completedSteps: 1, progress: progress(3) }, T0),
    ).toBe(true);
    const item = await rawItem(j);
    expect(item).not.toHaveProperty('result');
    expect(item.resultRef.bytes).toBe(JSON.stringify(result).length);
    expect(await store.get(j.tenant, j.id, T0)).toMatchObject({ status: 'succeeded', result });
  });

  it('a redriven job stores its large input again under a new key, so its lifecycle starts over', async () => {
    const j = job(freshTenant(), LARGE_INPUT);
    await running(j);
    await store.fail(j.tenant, j.id, { code: 'agent_error', message: 'x', retryable: false }, T0);
    const before = (await rawItem(j)).inputRef.key;
    const redriven = await store.redrive(j.tenant, j.id, new Date(T0.getTime() + 1000));
    expect(redriven.input).toEqual(LARGE_INPUT);
    const after = (await rawItem(j)).inputRef.key;
    expect(after).not.toBe(before);
    expect(JSON.parse(await objectText(after))).toEqual(LARGE_INPUT);
  });
});
