import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { OverdueDelivery } from '../adapters/dynamo-delivery-store.js';
import type { DynamoJobSlots } from '../adapters/dynamo-job-slots.js';
import type { WorkflowClient } from '../adapters/workflow-client.js';
import { JOB_SK, TABLE_KEYS } from '../config/table.js';
import type { JobStatus } from '../domain/job.js';

export interface UnfinishedJob {
  tenant: string;
  jobId: string;
  pk: string;
  executionName: string;
  status: JobStatus;
}

const UNFINISHED: JobStatus[] = ['pending', 'running', 'input_required'];

/**
 * Every job not yet finished, across tenants. A Scan of the whole table: affordable on a laptop's
 * table at start-up, which is the only place it runs.
 */
export async function listUnfinishedJobs(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<UnfinishedJob[]> {
  const statuses = Object.fromEntries(UNFINISHED.map((s, i) => [`:status${i}`, s]));
  const found: UnfinishedJob[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: `${TABLE_KEYS.sort} = :job AND #status IN (${Object.keys(statuses).join(', ')})`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ...statuses, ':job': JOB_SK },
        ProjectionExpression: `${TABLE_KEYS.partition}, tenant, id, executionName, #status`,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const i of out.Items ?? [])
      found.push({
        tenant: i.tenant,
        jobId: i.id,
        pk: i[TABLE_KEYS.partition],
        executionName: i.executionName,
        status: i.status,
      });
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return found;
}

export interface RecoveryDeps {
  client: DynamoDBDocumentClient;
  tableName: string;
  workflow: Pick<WorkflowClient, 'start'>;
  slots: Pick<DynamoJobSlots, 'read'>;
}

/**
 * Executions live in memory, so a restart loses those that were running. Start each unfinished
 * job's execution again under its name: the agent step resumes from its checkpoint, and a job past
 * its deadline fails with job_timeout. One the stream consumer already started while replaying the
 * stream counts as started already. A pending job still waiting in its tenant's queue (holding no
 * running slot) is left there: it starts when admitted. Returns how many were started.
 */
export async function resumeUnfinishedJobs({
  client,
  tableName,
  workflow,
  slots,
}: RecoveryDeps): Promise<number> {
  const unfinished = await listUnfinishedJobs(client, tableName);
  const holders = new Map<string, Promise<Record<string, unknown>>>();
  const holdersOf = (tenant: string) => {
    if (!holders.has(tenant))
      holders.set(
        tenant,
        slots.read(tenant).then((s) => s.holders),
      );
    return holders.get(tenant)!;
  };
  const admitted = await Promise.all(
    unfinished.map(
      async (job) => job.status !== 'pending' || (await holdersOf(job.tenant))[job.jobId] !== undefined,
    ),
  );
  const jobs = unfinished.filter((_, i) => admitted[i]);
  const outcomes = await Promise.all(
    jobs.map((job) =>
      workflow.start(job.executionName, { tenant: job.tenant, jobId: job.jobId, pk: job.pk }),
    ),
  );
  return outcomes.filter((o) => o === 'started').length;
}

export interface DeliveryRecoveryDeps {
  deliveries: {
    listOverdue(before: string): Promise<OverdueDelivery[]>;
    get(tenant: string, jobId: string, seq: number): Promise<{ leaseUntil?: string } | undefined>;
  };
  outbox: { requeue(overdue: OverdueDelivery, now: Date, staleLeases: boolean): Promise<boolean> };
}

/**
 * Queue messages persist under the data dir, so a pending delivery still has its message, hidden
 * until its next attempt or visible. Not so one whose message a poller had received at the stop:
 * waiting for its batch, or with its attempt in flight (its lease belongs to a process that is
 * gone). That message stays invisible for the queue's visibility timeout (minutes), and such a
 * delivery is due: a message is hidden until its delivery's next attempt. So every due
 * delivery, and any leased one, gets a new message, its owner and lease cleared; an old message
 * that comes back finds another owner or a finished delivery and is dropped, and a due delivery
 * whose message was simply waiting in the queue is attempted once all the same (the first message
 * to claim it owns it). Run before the queue pollers start, so no attempt of this run holds a lease
 * yet. Returns how many were requeued.
 */
export async function requeueInterruptedDeliveries({
  deliveries,
  outbox,
}: DeliveryRecoveryDeps): Promise<number> {
  const now = new Date();
  const pending = await deliveries.listOverdue('\uffff');
  const requeued = await Promise.all(
    pending.map(async (d) => {
      const due = Date.parse(d.nextAttemptAt) <= now.getTime();
      const interrupted = due || (await deliveries.get(d.tenant, d.jobId, d.seq))?.leaseUntil !== undefined;
      return interrupted && outbox.requeue(d, now, true);
    }),
  );
  return requeued.filter(Boolean).length;
}
