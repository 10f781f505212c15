import { createLogger } from '../config/logger.js';
import { deliveryStoreFromEnv, type OverdueDelivery } from '../adapters/dynamo-delivery-store.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { JobDlq } from '../adapters/job-dlq.js';
import { webhookOutboxFromEnv } from '../adapters/webhook-outbox.js';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, optionalSeconds, requireEnv } from '../config/env.js';
import type { Context } from 'aws-lambda';
import { jobDlqMessage } from '../config/workflow.js';
import { AWAITING_EXECUTION, MOVES } from '../domain/job.js';
import type { LiveJob, SweepCursor } from '../domain/job-store.js';
import { leaseVerdict, pendingRepair } from '../domain/job-slots.js';
import { jobSlotsFromEnv } from '../adapters/dynamo-job-slots.js';
import { JobAdmission } from '../adapters/job-admission.js';
import { tenantLimitsCacheFromEnv } from '../adapters/tenant-limits-cache.js';

const logger = createLogger();
const store = jobStoreFromEnv();
const workflow = new WorkflowClient(requireEnv(ENV.stateMachineArn));
const dlq = new JobDlq(requireEnv(ENV.jobDlqUrl));
const deliveries = deliveryStoreFromEnv();
const outbox = webhookOutboxFromEnv();
const slots = jobSlotsFromEnv();
const admission = new JobAdmission(slots, tenantLimitsCacheFromEnv(), workflow);

/**
 * Only jobs older than this are judged: a younger pending job may still be on its way through the
 * stream, and a younger execution may not be visible yet.
 */
const minAgeSeconds = optionalSeconds(ENV.sweepMinAgeSeconds, 300);
/**
 * An answer is handed to its waiting execution by the stream within a second or so; one that has
 * not been a minute later lost its stream record (or it is still being retried: resuming twice is
 * harmless, the second call finds the task closed).
 */
const answerAgeSeconds = Math.min(60, minAgeSeconds);

/**
 * Live jobs judged at once (one page of the index, each job a few requests, all in flight together);
 * overdue deliveries read at once.
 */
const PAGE_SIZE = 16;
/** Time kept back from the function's timeout, so the page in flight ends and the cursor is saved. */
const RESERVE_MS = 20_000;
/** The run's budget when it is called without a Lambda context (the local stack, tests). */
const DEFAULT_BUDGET_MS = 90_000;
/** Share of the budget for live jobs; overdue deliveries get the rest. */
const JOBS_SHARE = 2 / 3;

const LOST = {
  code: 'execution_lost',
  message: 'the job had no live execution; an operator has been alerted',
  retryable: true,
} as const;

type Repair = 'started' | 'failed' | 'healthy' | 'resumed' | 'requeued';

/**
 * Repairs live jobs the event-driven paths left behind: a pending job that holds a slot but whose
 * execution never started is started (idempotent by name), one that lost its queue entry is queued
 * again; a running job whose answered wait for input was never
 * handed to its execution is resumed; a job whose execution is not running (or never existed) is
 * failed with `execution_lost` and sent to the job DLQ, like the reconciler would.
 */
async function repair(job: LiveJob, now: Date): Promise<Repair> {
  if (job.status === AWAITING_EXECUTION) {
    const queued = { tenant: job.tenant, id: job.jobId, executionName: job.executionName };
    const action = pendingRepair({
      holdsSlot: (await slots.read(job.tenant)).holders[job.jobId] !== undefined,
      queued: await slots.isQueued(job.tenant, job.jobId),
    });
    // A queued job waits for a slot, which the slots pass of this run already looked for.
    if (action === 'wait') return 'healthy';
    if (action === 'enqueue') {
      const timeoutSeconds = (await store.get(job.tenant, job.jobId, now))?.timeoutSeconds;
      if (timeoutSeconds === undefined) return 'healthy';
      await slots.enqueue({ ...queued, timeoutSeconds });
      await admission.admit(job.tenant);
      return 'requeued';
    }
    if ((await admission.start(queued)) === 'started') return 'started';
  }
  if ((await workflow.status(job.executionName)) === 'RUNNING') {
    return (await resumeAnswered(job, now)) ? 'resumed' : 'healthy';
  }
  // The DLQ message first: a failed send leaves the job live, so the next sweep tries again.
  await dlq.send(
    jobDlqMessage(
      { tenant: job.tenant, jobId: job.jobId, pk: job.pk },
      { code: LOST.code, message: LOST.message },
      { swept: { status: job.status, executionName: job.executionName } },
    ),
  );
  return (await store.fail(job.tenant, job.jobId, LOST, now, job.executionName)) ? 'failed' : 'healthy';
}

/**
 * The answer is on the job item with the wait's task token until the next step writes: a token
 * still there a while after the answer means the execution may never have been told. A wait that
 * has ended meanwhile (resumed after all, timed out, stopped) answers false and is left alone.
 */
async function resumeAnswered(job: LiveJob, now: Date): Promise<boolean> {
  // Only an answer's move leaves the token behind on a job that runs again.
  if (job.status !== MOVES.answer.to) return false;
  const wait = await store.answeredWait(job.tenant, job.jobId);
  if (!wait || Date.parse(wait.answeredAt) > now.getTime() - answerAgeSeconds * 1000) return false;
  return workflow.resume(wait.token);
}

/**
 * Takes back slots whose release was lost (the holder ended, vanished or outlived its lease) and
 * admits queued jobs into free slots, tenant by tenant: one tenant's stalled queue never waits
 * for another's. Returns how many slots were released and jobs admitted.
 */
async function repairSlots(now: Date, failures: unknown[], inTime: () => boolean) {
  const counts = { releasedSlots: 0, admitted: 0 };
  for (const tenant of await slots.tenants()) {
    if (!inTime()) break;
    try {
      for (const [jobId, lease] of Object.entries((await slots.read(tenant)).holders)) {
        const holder = await slots.holderStatus(tenant, jobId, now);
        if (
          leaseVerdict(lease, holder, now.getTime()) === 'release' &&
          (await slots.releaseSlot(tenant, jobId))
        ) {
          counts.releasedSlots++;
          logger.warn('leaked slot released', { tenant, jobId, holder: holder?.status ?? 'gone' });
        }
      }
      counts.admitted += (await admission.admit(tenant)).admitted.length;
    } catch (error) {
      failures.push(error);
      logger.error('tenant slots not repaired', { error: error as Error, tenant });
    }
  }
  return counts;
}

/**
 * A pending webhook delivery is picked up within seconds of its due time; one overdue by the sweep's
 * age bound has lost its queue message (a local queue restarted, or a send failed after the
 * record was written) and gets a new one. Returns how many did.
 */
async function requeueAll(overdue: OverdueDelivery[], now: Date, failures: unknown[]): Promise<number> {
  let requeued = 0;
  for (const delivery of overdue) {
    try {
      if (await outbox.requeue(delivery, now)) {
        requeued++;
        logger.warn('overdue webhook delivery requeued', { jobId: delivery.jobId, seq: delivery.seq });
      }
    } catch (error) {
      failures.push(error);
      logger.error('overdue webhook delivery not requeued', { error: error as Error, jobId: delivery.jobId });
    }
  }
  return requeued;
}

async function repairAll(jobs: LiveJob[], now: Date, counts: Record<Repair, number>, failures: unknown[]) {
  await Promise.all(
    jobs.map(async (job) => {
      try {
        const outcome = await repair(job, now);
        counts[outcome]++;
        if (outcome !== 'healthy')
          logger.warn('stuck job repaired', { jobId: job.jobId, status: job.status, outcome });
      } catch (error) {
        failures.push(error);
        logger.error('stuck job not repaired', { error: error as Error, jobId: job.jobId });
      }
    }),
  );
}

interface PagedSweep<T> {
  cursor(): Promise<SweepCursor>;
  page(from: SweepCursor): Promise<{ items: T[]; next: SweepCursor | undefined }>;
  handle(items: T[]): Promise<void>;
  save(cursor: SweepCursor): Promise<void>;
}

/**
 * Works through an index a page at a time from where the last run stopped, while its share of the
 * time lasts, and saves where it stopped: however many items there are, every run makes progress
 * and the runs together cover them all. Returns whether this run reached the end of the index.
 */
async function sweepPages<T>(sweep: PagedSweep<T>, inTime: () => boolean): Promise<boolean> {
  let cursor = await sweep.cursor();
  for (;;) {
    const page = await sweep.page(cursor);
    await sweep.handle(page.items);
    if (!page.next) {
      await sweep.save({ shard: 0 });
      return true;
    }
    cursor = page.next;
    if (!inTime()) {
      await sweep.save(cursor);
      return false;
    }
  }
}

const sweepLive = (
  before: string,
  now: Date,
  inTime: () => boolean,
  counts: Record<Repair, number>,
  failures: unknown[],
) =>
  sweepPages<LiveJob>(
    {
      cursor: () => store.sweepCursor(),
      page: async (from) => {
        const { jobs, next } = await store.listLivePage(before, from, PAGE_SIZE);
        return { items: jobs, next };
      },
      handle: (jobs) => repairAll(jobs, now, counts, failures),
      save: (cursor) => store.saveSweepCursor(cursor),
    },
    inTime,
  );

async function sweepDeliveries(before: string, now: Date, inTime: () => boolean, failures: unknown[]) {
  let requeued = 0;
  const complete = await sweepPages<OverdueDelivery>(
    {
      cursor: () => deliveries.overdueCursor(),
      page: async (from) => {
        const { deliveries: items, next } = await deliveries.listOverduePage(before, from, PAGE_SIZE);
        return { items, next };
      },
      handle: async (items) => {
        requeued += await requeueAll(items, now, failures);
      },
      save: (cursor) => deliveries.saveOverdueCursor(cursor),
    },
    inTime,
  );
  return { requeued, complete };
}

/**
 * One item that cannot be repaired (throttling, a transient error) does not stop the rest: every
 * item is tried, and the run fails at the end if any did, so the errors alarm still fires.
 */
export const handler = async (
  _event?: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<
  Record<Repair | 'requeuedDeliveries' | 'releasedSlots' | 'admitted', number> & { complete: boolean }
> => {
  const startedAt = Date.now();
  const budget = context ? context.getRemainingTimeInMillis() - RESERVE_MS : DEFAULT_BUDGET_MS;
  const jobsUntil = startedAt + budget * JOBS_SHARE;
  const until = startedAt + budget;
  const now = new Date();
  const before = new Date(now.getTime() - minAgeSeconds * 1000).toISOString();
  const counts: Record<Repair, number> = { started: 0, failed: 0, healthy: 0, resumed: 0, requeued: 0 };
  const failures: unknown[] = [];
  const slotCounts = await repairSlots(now, failures, () => Date.now() < jobsUntil);
  const jobsDone = await sweepLive(before, now, () => Date.now() < jobsUntil, counts, failures);
  const overdue = await sweepDeliveries(before, now, () => Date.now() < until, failures);
  const result = {
    ...counts,
    ...slotCounts,
    requeuedDeliveries: overdue.requeued,
    complete: jobsDone && overdue.complete,
  };
  logger.info('sweep done', { ...result, failures: failures.length });
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} sweep repair(s) failed`);
  return result;
};
