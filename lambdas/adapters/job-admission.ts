import { jobPk } from '../config/table.js';
import type { Admission, DynamoJobSlots, QueuedJob } from './dynamo-job-slots.js';
import type { TenantLimitsCache } from './tenant-limits-cache.js';
import type { WorkflowClient } from './workflow-client.js';

/**
 * Admission where it happens: the starter (on a new job, a finished one, a redrive) and the sweep.
 * Jobs wait in the queue with no execution and no Lambda busy; only an admitted job (one that took
 * a slot) gets its execution started.
 */
export class JobAdmission {
  constructor(
    private readonly slots: DynamoJobSlots,
    private readonly limits: Pick<TenantLimitsCache, 'of'>,
    private readonly workflow: Pick<WorkflowClient, 'start'>,
  ) {}

  /**
   * Admits the tenant's queued jobs while it has free slots and starts their executions; `waiting`
   * names jobs known to be queued (see DynamoJobSlots.admit).
   */
  async admit(tenant: string, waiting: QueuedJob[] = []): Promise<Admission> {
    const { maxRunningJobs } = await this.limits.of(tenant);
    const admission = await this.slots.admit(tenant, maxRunningJobs, Date.now(), waiting);
    const { admitted } = admission;
    // One after another, so executions start in submit order. Every admitted job is tried; a
    // failed start fails the call (its record is retried) and the job keeps its slot, so the
    // retry or the sweep starts it.
    const failures: unknown[] = [];
    for (const job of admitted) await this.start(job).catch((e: unknown) => failures.push(e));
    if (failures.length > 0) throw new AggregateError(failures, 'execution start failed');
    return admission;
  }

  /** Idempotent by execution name: starting an admitted job again (a retried record) is harmless. */
  start(job: Pick<QueuedJob, 'tenant' | 'id' | 'executionName'>) {
    return this.workflow.start(job.executionName, {
      tenant: job.tenant,
      jobId: job.id,
      pk: jobPk(job.tenant, job.id),
    });
  }
}
