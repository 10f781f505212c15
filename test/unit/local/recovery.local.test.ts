import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../../lambdas/adapters/dynamo-api-key-store.js';
import { DynamoJobSlots } from '../../../lambdas/adapters/dynamo-job-slots.js';
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
let slots: DynamoJobSlots;
useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
  slots = new DynamoJobSlots(TABLE, client);
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
          status: 'pending',
        })),
      ),
    );
  });

  it('starts each one under its execution name, an execution that already exists counting as started', async () => {
    const { tenants } = await mixedJobs();
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
      .resolves({});
    // Both pending jobs were admitted (they hold running slots) before the restart.
    for (const tenant of tenants) await slots.admit(tenant, 10, T0.getTime());
    const started = await resumeUnfinishedJobs({
      client: doc,
      tableName: TABLE,
      workflow: new WorkflowClient(STATE_MACHINE, new SFNClient({ region: 'us-east-1' })),
      slots,
    });
    // Only admitted jobs are started (other tests' jobs still wait in their queues): ours, one of
    // which already had its execution.
    expect(started).toBe(1);
    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    const ours = calls.filter((c) => tenants.includes(JSON.parse(c.input!).tenant));
    expect(ours).toHaveLength(2);
    expect(calls).toHaveLength(2);
    for (const call of ours) {
      const input = JSON.parse(call.input!) as { tenant: string; jobId: string; pk: string };
      expect(call).toMatchObject({ stateMachineArn: STATE_MACHINE, name: input.jobId });
      expect(input.pk).toBe(jobPk(input.tenant, input.jobId));
    }
  });
  it('leaves a job still waiting in its queue (no running slot) for admission, starting none', async () => {
    const tenant = freshTenant();
    const queued = job(tenant);
    await store.create(queued, 'fp', T0);
    sfn.on(StartExecutionCommand).resolves({});
    await resumeUnfinishedJobs({
      client: doc,
      tableName: TABLE,
      workflow: new WorkflowClient(STATE_MACHINE, new SFNClient({ region: 'us-east-1' })),
      slots,
    });
    const names = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names).not.toContain(queued.id);
    expect(await slots.position(tenant, queued.id)).toBe(1);
  });
});
