import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { OverdueDelivery } from '../adapters/dynamo-delivery-store.js';
import type { ExecutionInput } from '../config/workflow.js';

export interface UnfinishedJob {
  tenant: string;
  jobId: string;
  pk: string;
  executionName?: string;
}

export interface RecoveryDeps {
  store: { listUnfinished(): Promise<UnfinishedJob[]> };
  sfn: SFNClient;
  stateMachineArn: string;
}

/**
 * Executions live in memory, so a restart loses those that were running. Start each unfinished
 * job's execution again under its name: the agent step resumes from its checkpoint, and a job past
 * its deadline fails with job_timeout. Returns how many were started.
 */
export async function resumeUnfinishedJobs({ store, sfn, stateMachineArn }: RecoveryDeps): Promise<number> {
  const jobs = await store.listUnfinished();
  const started = await Promise.all(jobs.map((job) => restart(sfn, stateMachineArn, job)));
  return started.filter(Boolean).length;
}

async function restart(sfn: SFNClient, stateMachineArn: string, job: UnfinishedJob): Promise<boolean> {
  const input: ExecutionInput = { tenant: job.tenant, jobId: job.jobId, pk: job.pk };
  try {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: job.executionName ?? job.jobId,
        input: JSON.stringify(input),
      }),
    );
    return true;
  } catch (e) {
    // The stream consumer may have started it already while replaying the stream.
    if (e instanceof ExecutionAlreadyExists) return false;
    throw e;
  }
}

export interface DeliveryRecoveryDeps {
  deliveries: {
    listOverdue(before: string): Promise<OverdueDelivery[]>;
    get(tenant: string, jobId: string, seq: number): Promise<{ leaseUntil?: string } | undefined>;
  };
  outbox: { requeue(overdue: OverdueDelivery, now: Date, staleLeases: boolean): Promise<boolean> };
}

/**
 * Queue messages persist under the data dir, so a pending delivery still has its message (visible,
 * or hidden until its next attempt). Only an attempt in flight at the stop is left hanging: its
 * message stays invisible for the queue's visibility timeout, and its lease belongs to a process
 * that is gone. Each such delivery gets a new message, clearing the lease; the old message, when it
 * comes back, finds another owner or a finished delivery and is dropped. Run before the queue
 * pollers start, so no attempt of this run holds a lease yet. Returns how many were requeued.
 */
export async function requeueInterruptedDeliveries({
  deliveries,
  outbox,
}: DeliveryRecoveryDeps): Promise<number> {
  const now = new Date();
  const pending = await deliveries.listOverdue('\uffff');
  const requeued = await Promise.all(
    pending.map(async (d) => {
      const leased = (await deliveries.get(d.tenant, d.jobId, d.seq))?.leaseUntil !== undefined;
      return leased && outbox.requeue(d, now, true);
    }),
  );
  return requeued.filter(Boolean).length;
}
