import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../../lambdas/adapters/dynamo-api-key-store.js';
import { DynamoDeliveryStore, type NewDelivery } from '../../../lambdas/adapters/dynamo-delivery-store.js';
import { DynamoJobSlots } from '../../../lambdas/adapters/dynamo-job-slots.js';
import { DynamoJobStore, jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { newApiKeyRecord } from '../../../lambdas/domain/api-key.js';
import { WebhookOutbox } from '../../../lambdas/adapters/webhook-outbox.js';
import { WebhookQueue } from '../../../lambdas/adapters/webhook-queue.js';
import { WorkflowClient } from '../../../lambdas/adapters/workflow-client.js';
import { deliveryId } from '../../../lambdas/domain/delivery.js';
import { newJobId } from '../../../lambdas/domain/idempotency.js';
import { type Job, newJob } from '../../../lambdas/domain/job.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';
import {
  listUnfinishedJobs,
  requeueInterruptedDeliveries,
  resumeUnfinishedJobs,
} from '../../../lambdas/local/recovery.js';
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

  it('gives every due webhook delivery, and any with an attempt in flight, a new message, and none still waiting to be due', async () => {
    const deliveries = new DynamoDeliveryStore(TABLE, doc);
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolves({ MessageId: 'new-message' });
    const tenant = freshTenant();
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);
    const delivery = (name: string): NewDelivery => {
      const jobId = newJobId();
      return {
        tenant,
        jobId,
        seq: 4,
        id: deliveryId(4),
        webhookId: `msg_${jobId}_4`,
        type: 'job.succeeded',
        url: 'https://hooks.example/x',
        body: `{"name":"${name}"}`,
        createdAt: ago(30).toISOString(),
      };
    };
    const message = (d: NewDelivery) => ({ tenant, jobId: d.jobId, seq: d.seq, round: 0 });
    // Received by a poller at the stop, its batch never handed over: due, no lease.
    const received = delivery('received');
    // Claimed, its attempt in flight at the stop: leased.
    const inFlight = delivery('in flight');
    // Attempted, recorded and its message hidden until its next attempt, a minute from now.
    const waiting = delivery('waiting');
    // Delivered before the stop.
    const delivered = delivery('delivered');
    for (const d of [received, inFlight, waiting, delivered]) await deliveries.create(d, 4_070_908_800);
    for (const d of [inFlight, waiting, delivered])
      expect(await deliveries.claim(message(d), 0, `old-${d.body}`, ago(5), 60)).toBe(true);
    const attempt = { at: ago(5).toISOString(), httpStatus: 503, durationMs: 3 };
    const later = new Date(Date.now() + 60_000).toISOString();
    await deliveries.record(
      message(waiting),
      0,
      `old-${waiting.body}`,
      attempt,
      { status: 'pending', nextAttemptAt: later },
      ago(5),
    );
    await deliveries.record(
      message(delivered),
      0,
      `old-${delivered.body}`,
      { ...attempt, httpStatus: 200 },
      { status: 'delivered' },
      ago(5),
    );

    const outbox = new WebhookOutbox(
      deliveries,
      new WebhookQueue('https://sqs.local/hooks', new SQSClient({})),
    );
    await requeueInterruptedDeliveries({ deliveries, outbox });

    const sent = sqs
      .commandCalls(SendMessageCommand)
      .map((c) => JSON.parse(c.args[0].input.MessageBody!) as { jobId: string })
      .filter((m) => [received, inFlight, waiting, delivered].some((d) => d.jobId === m.jobId));
    expect(sent.map((m) => m.jobId).sort()).toEqual([received.jobId, inFlight.jobId].sort());
    // Free for the new message to claim: no owner, no lease; the waiting one keeps its message.
    for (const d of [received, inFlight]) {
      const stored = await deliveries.get(tenant, d.jobId, 4);
      expect(stored).toMatchObject({ status: 'pending', attempts: [] });
      expect(stored?.owner).toBeUndefined();
      expect(stored?.leaseUntil).toBeUndefined();
    }
    expect(await deliveries.get(tenant, waiting.jobId, 4)).toMatchObject({ owner: `old-${waiting.body}` });
    sqs.restore();
  });
});
