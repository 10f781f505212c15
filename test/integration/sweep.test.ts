import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { interceptLocalhostDns } from 'fauxqs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { jobPk } from '../../lambdas/adapters/dynamo-job-store.js';
import { executionArn } from '../../lambdas/config/workflow.js';
import { newJobId } from '../../lambdas/domain/idempotency.js';
import { newJob } from '../../lambdas/domain/job.js';
import { liveExpiry } from '../../lambdas/domain/retention.js';
import { apiFor, executionsNamed } from './client.js';

const TENANT = 'sweep';
const api = apiFor(TENANT);
const sfn = new SFNClient({
  endpoint: inject('sfnEndpoint'),
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});

// The sweep runs here as its schedule would run it, with the stack's handler environment; jobs a
// second old already count as stuck, so the test need not wait the production 5 minutes.
Object.assign(process.env, inject('handlerEnv'), {
  SWEEP_MIN_AGE_SECONDS: '1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
const { handler: sweep } = await import('../../lambdas/handlers/sweep-jobs.js');
const { jobStoreFromEnv } = await import('../../lambdas/adapters/dynamo-job-store.js');
const store = jobStoreFromEnv();
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
// The local SQS's queue URLs are on sqs.<region>.localhost, which only the stack's process resolves.
afterAll(interceptLocalhostDns());

async function settled(arn: string) {
  for (;;) {
    const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    if (status !== 'RUNNING') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('sweep', () => {
  it('fails a job left pending because its execution name was already taken, as execution_lost', async () => {
    // A finished execution already holds the job's name, so the stream's start is a no-op and the
    // job would stay pending for ever: the state a lost or misdirected start leaves behind.
    const id = newJobId();
    const arn = executionArn(inject('stateMachineArn'), id);
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: inject('stateMachineArn'),
        name: id,
        input: JSON.stringify({ tenant: TENANT, jobId: id, pk: jobPk(TENANT, id) }),
      }),
    );
    expect(await settled(arn)).toBe('SUCCEEDED');

    const createdAt = new Date();
    const request = { agent: 'echo', input: { message: 'stuck' }, timeoutSeconds: 900 };
    await store.create(newJob(id, TENANT, request, createdAt, liveExpiry(createdAt, 900)), 'fp', createdAt);
    const until = Date.now() + 20_000;
    let job = (await api.get(id)).body;
    while (job.status === 'pending' && Date.now() < until) {
      await sweep();
      await new Promise((r) => setTimeout(r, 200));
      job = (await api.get(id)).body;
    }
    expect(job).toMatchObject({ status: 'failed', error: { code: 'execution_lost', retryable: true } });
  });

  it('starts a job left pending with no execution, which then runs to the end', async () => {
    // The state a lost start leaves behind (a stream batch given up on into the start DLQ), made
    // with two writes the stream consumer has nothing to start from: the job item first appears
    // cancelled (an INSERT it ignores), then turns pending under the same execution name (it
    // starts an execution only for a new name). Ten minutes old, so the sweep judges it stuck.
    const id = newJobId();
    const createdAt = new Date(Date.now() - 10 * 60_000);
    const request = { agent: 'echo', input: { message: 'found', steps: 2, stepMs: 0 }, timeoutSeconds: 900 };
    const job = newJob(id, TENANT, request, createdAt, liveExpiry(createdAt, request.timeoutSeconds));
    await store.create({ ...job, status: 'cancelled' }, 'fingerprint', createdAt);
    await ddb.send(
      new UpdateCommand({
        TableName: inject('handlerEnv').JOBS_TABLE_NAME,
        Key: { PK: jobPk(TENANT, id), SK: 'JOB' },
        UpdateExpression: 'SET #status = :pending',
        ConditionExpression: '#status = :cancelled',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': 'pending', ':cancelled': 'cancelled' },
      }),
    );
    expect((await api.get(id)).body).toMatchObject({ status: 'pending', startedAt: null });
    expect(await executionsNamed(id)).toEqual([]);

    // The submit queued it, so a sweep admits it into a free running slot and starts it (this
    // file's sweep, or another file's running at the same time: either counts it as admitted).
    const until = Date.now() + 20_000;
    while ((await api.get(id)).body.status === 'pending' && Date.now() < until) {
      await sweep();
      await new Promise((r) => setTimeout(r, 200));
    }

    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      result: { message: 'found', steps: 2, input: null },
      startedAt: expect.any(String),
    });
    expect((await executionsNamed(id)).map((e) => e.status)).toEqual(['SUCCEEDED']);
  });

  it('leaves healthy live jobs alone', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 2, stepMs: 0, askInput: 'Still there?' },
    });
    await api.waitForStatus(body.id, 'input_required');
    await new Promise((r) => setTimeout(r, 1_100));
    await sweep();
    expect((await api.get(body.id)).body.status).toBe('input_required');
    await api.cancel(body.id);
  });

  it('resumes an answered job whose resume never reached its execution, which then runs to the end', async () => {
    const { body } = await api.create({ agent: 'approval', input: {} });
    await api.waitForStatus(body.id, 'input_required');
    const key = { PK: jobPk(TENANT, body.id), SK: 'JOB' };
    const table = inject('handlerEnv').JOBS_TABLE_NAME;
    const until = Date.now() + 10_000;
    while (!(await ddb.send(new GetCommand({ TableName: table, Key: key }))).Item?.inputToken) {
      if (Date.now() > until) throw new Error('the wait never stored its token');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The answer as the API records it, in two writes the stream consumer resumes nothing from
    // (it resumes only on input_required -> running): the state a dead-lettered record leaves.
    const answeredAt = new Date(Date.now() - 5_000).toISOString();
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET #status = :parked REMOVE inputRequest',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':parked': 'pending' },
      }),
    );
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET #status = :running, answer = :answer, answeredAt = :at',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': 'running',
          ':answer': { approved: true },
          ':at': answeredAt,
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await api.get(body.id)).body.status).toBe('running');

    expect((await sweep()).resumed).toBe(1);
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({ status: 'succeeded', result: { answer: { approved: true } } });
  });
});
