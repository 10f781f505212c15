import { createLogger } from '../config/logger.js';
import { deliveryStoreFromEnv } from '../adapters/dynamo-delivery-store.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { JobDlq } from '../adapters/job-dlq.js';
import { webhookOutboxFromEnv } from '../adapters/webhook-outbox.js';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, optionalSeconds, requireEnv } from '../config/env.js';
import type { LiveJob } from '../domain/job-store.js';

const logger = createLogger();
const store = jobStoreFromEnv();
const workflow = new WorkflowClient(requireEnv(ENV.stateMachineArn));
const dlq = new JobDlq(requireEnv(ENV.jobDlqUrl));
const deliveries = deliveryStoreFromEnv();
const outbox = webhookOutboxFromEnv();

/**
 * Only jobs older than this are judged: a younger pending job may still be on its way through the
 * stream, and a younger execution may not be visible yet.
 */
const minAgeSeconds = optionalSeconds(ENV.sweepMinAgeSeconds, 300);

const LOST = {
  code: 'execution_lost',
  message: 'the job had no live execution; an operator has been alerted',
  retryable: true,
} as const;

type Repair = 'started' | 'failed' | 'healthy';

/**
 * Repairs live jobs the event-driven paths left behind: a pending job whose execution never
 * started is started (idempotent by name); a job whose execution is not running (or never existed)
 * is failed with `execution_lost` and sent to the job DLQ, like the reconciler would.
 */
async function repair(job: LiveJob, now: Date): Promise<Repair> {
  if (job.status === 'pending') {
    const started = await workflow.start(job.executionName, {
      tenant: job.tenant,
      jobId: job.jobId,
      pk: job.pk,
    });
    if (started === 'started') return 'started';
  }
  if ((await workflow.status(job.executionName)) === 'RUNNING') return 'healthy';
  // The DLQ message first: a failed send leaves the job live, so the next sweep tries again.
  await dlq.send({
    tenant: job.tenant,
    jobId: job.jobId,
    pk: job.pk,
    swept: { status: job.status, executionName: job.executionName },
    markFailed: {
      failed: true,
      jobId: job.jobId,
      tenant: job.tenant,
      error: { code: LOST.code, message: LOST.message },
    },
  });
  return (await store.fail(job.tenant, job.jobId, LOST, now, job.executionName)) ? 'failed' : 'healthy';
}

/**
 * A pending webhook delivery is picked up within seconds of its due time; one overdue by the sweep's
 * age bound has lost its queue message (a local queue restarted, or a send failed after the
 * record was written) and gets a new one. Returns how many did.
 */
async function requeueOverdueDeliveries(before: string, now: Date, failures: unknown[]): Promise<number> {
  let requeued = 0;
  for (const overdue of await deliveries.listOverdue(before)) {
    try {
      if (await outbox.requeue(overdue, now)) {
        requeued++;
        logger.warn('overdue webhook delivery requeued', { jobId: overdue.jobId, seq: overdue.seq });
      }
    } catch (error) {
      failures.push(error);
      logger.error('overdue webhook delivery not requeued', { error: error as Error, jobId: overdue.jobId });
    }
  }
  return requeued;
}

/**
 * One item that cannot be repaired (throttling, a transient error) does not stop the rest: every
 * item is tried, and the run fails at the end if any did, so the errors alarm still fires.
 */
export const handler = async (): Promise<Record<Repair | 'requeuedDeliveries', number>> => {
  const now = new Date();
  const before = new Date(now.getTime() - minAgeSeconds * 1000).toISOString();
  const jobs = await store.listLive(before);
  const counts: Record<Repair, number> = { started: 0, failed: 0, healthy: 0 };
  const failures: unknown[] = [];
  for (const job of jobs) {
    try {
      const outcome = await repair(job, now);
      counts[outcome]++;
      if (outcome !== 'healthy')
        logger.warn('stuck job repaired', { jobId: job.jobId, status: job.status, outcome });
    } catch (error) {
      failures.push(error);
      logger.error('stuck job not repaired', { error: error as Error, jobId: job.jobId });
    }
  }
  const result = { ...counts, requeuedDeliveries: await requeueOverdueDeliveries(before, now, failures) };
  logger.info('sweep done', { ...result, failures: failures.length });
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} sweep repair(s) failed`);
  return result;
};
