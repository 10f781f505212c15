import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../../lambdas/adapters/dynamo-api-key-store.js';
import { DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { newApiKeyRecord } from '../../../lambdas/domain/api-key.js';
import { WorkflowClient } from '../../../lambdas/adapters/workflow-client.js';
import { newJobId } from '../../../lambdas/domain/idempotency.js';
import { type Job, newJob } from '../../../lambdas/domain/job.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';
import { listUnfinishedJobs, resumeUnfinishedJobs } from '../../../lambdas/local/recovery.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-recovery-test';
const STATE_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Jobs';
const T0 = new Date();

let doc: DynamoDBDocumentClient;
let store: DynamoJobStore;
useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
});

let tenantCounter = 0;
const freshTenant = () => `r${++tenantCounter}-${process.pid}`;
const job = (tenant: string): Job =>
  newJob(newJobId(), tenant, { agent: 'echo', input: {}, timeoutSeconds: 900 }, T0, liveExpiry(T0, 900));

const sfn = mockClient(SFNClient);
beforeEach(() => sfn.reset());

/** Two tenants' jobs: one pending each, one cancelled, one failed, and an API key item. */
async function mixedJobs() {
  const [a, b] = [freshTenant(), freshTenant()];
  const [pending, other, cancelled, failed] = [job(a), job(b), job(a), job(b)];
  for (const j of [pending, other, cancelled, failed]) await store.create(j, 'fp', T0);
  await store.cancel(a, cancelled.id, T0);
  await store.fail(b, failed.id, { code: 'agent_error', message: 'x', retryable: false }, T0);
  await new DynamoApiKeyStore(TABLE, doc).create(newApiKeyRecord(`key-${a}`, a, 'test', T0));
  return { tenants: [a, b], pending, other };
}

describe('local restart recovery', () => {
  it('lists the unfinished jobs of every tenant, nothing terminal and no other item', async () => {
    const { tenants, pending, other } = await mixedJobs();
    const mine = (await listUnfinishedJobs(doc, TABLE)).filter((u) => tenants.includes(u.tenant));
    expect(mine).toHaveLength(2);
    expect(mine).toEqual(
      expect.arrayContaining(
        [pending, other].map((j) => ({
          tenant: j.tenant,
          jobId: j.id,
          pk: jobPk(j.tenant, j.id),
          executionName: j.executionName,
        })),
      ),
    );
  });

  it('starts each one under its execution name, an execution that already exists counting as started', async () => {
    const { tenants } = await mixedJobs();
    const unfinished = (await listUnfinishedJobs(doc, TABLE)).length;
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
      .resolves({});
    const started = await resumeUnfinishedJobs({
      client: doc,
      tableName: TABLE,
      workflow: new WorkflowClient(STATE_MACHINE, new SFNClient({ region: 'us-east-1' })),
    });
    expect(started).toBe(unfinished - 1);
    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    const ours = calls.filter((c) => tenants.includes(JSON.parse(c.input!).tenant));
    expect(ours).toHaveLength(2);
    for (const call of ours) {
      const input = JSON.parse(call.input!) as { tenant: string; jobId: string; pk: string };
      expect(call).toMatchObject({ stateMachineArn: STATE_MACHINE, name: input.jobId });
      expect(input.pk).toBe(jobPk(input.tenant, input.jobId));
    }
  });
});
