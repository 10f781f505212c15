import { createLogger } from '../config/logger.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, requireEnv } from '../config/env.js';
import { INPUT_TOKEN_ATTRIBUTE, JOB_SK, TABLE_KEYS } from '../config/table.js';
import { AWAITING_EXECUTION, isTerminal, type Job, madeMove, MOVES } from '../domain/job.js';
import { jobSlotsFromEnv, type QueuedJob } from '../adapters/dynamo-job-slots.js';
import { JobAdmission } from '../adapters/job-admission.js';
import { tenantLimitsCacheFromEnv } from '../adapters/tenant-limits-cache.js';

const logger = createLogger();
const workflow = new WorkflowClient(requireEnv(ENV.stateMachineArn));
const slots = jobSlotsFromEnv();
const admission = new JobAdmission(slots, tenantLimitsCacheFromEnv(), workflow);

type JobImage = Job & {
  [TABLE_KEYS.partition]: string;
  [TABLE_KEYS.sort]: string;
  [INPUT_TOKEN_ATTRIBUTE]?: string;
};

const image = (img: unknown) =>
  img ? (unmarshall(img as Record<string, AttributeValue>) as JobImage) : undefined;

/** What one record asks of the workflow and of its tenant's slots. */
interface Step {
  /** Position in the batch: records come in stream order, so the lowest failed one is reported. */
  index: number;
  record: DynamoDBRecord;
  tenant: string;
  /** The record's own writes and calls, if any; a tenant's records are applied in stream order. */
  apply?: () => Promise<void>;
  /** A finished job: what it held is given back after `apply`, together with the ends that follow it. */
  ended?: string;
  /** The tenant's queue or running slots changed, so its admission pass must follow. */
  admits: boolean;
  /** A pending job: if it holds a slot the pass did not just give it, its start is repeated. */
  waiting?: QueuedJob;
}

/**
 * What a committed write to a job item asks of the workflow. A new pending job (or an expired
 * one replaced under the same id, or a redriven one, each with a new execution name) joins its
 * tenant's queue, and the tenant's queued jobs are admitted while it has free slots; a finished
 * job gives its slot back and lets the next one in; a move to `cancelled` also stops the
 * execution, and an answer (input_required -> running) resumes the waiting task with the token
 * the item still carries.
 */
export function stepOf(record: DynamoDBRecord, index: number): Step | undefined {
  const next = image(record.dynamodb?.NewImage);
  if (!next || next[TABLE_KEYS.sort] !== JOB_SK) return undefined;
  const prev = image(record.dynamodb?.OldImage);
  const step = { index, record, tenant: next.tenant };
  if (next.status === AWAITING_EXECUTION && prev?.executionName !== next.executionName) {
    const job = queuedJob(next);
    // A submit queued its job in the same transaction; a rewrite back to pending (redrive) did not.
    const apply = prev && (async () => void (await slots.enqueue(job)));
    return { ...step, apply, admits: true, waiting: job };
  }
  if (isTerminal(next.status) && prev && !isTerminal(prev.status)) {
    return { ...step, apply: () => stopCancelled(prev, next), admits: true, ended: next.id };
  }
  if (prev && madeMove(MOVES.answer, prev.status, next.status)) {
    return { ...step, apply: () => resume(prev, next), admits: false };
  }
  return undefined;
}

const queuedJob = (job: JobImage): QueuedJob => ({
  tenant: job.tenant,
  id: job.id,
  executionName: job.executionName,
  timeoutSeconds: job.timeoutSeconds,
});

/** A cancelled job's execution stopped, before its slot (or queue entry) is given back. */
async function stopCancelled(prev: JobImage, next: JobImage) {
  if (!madeMove(MOVES.cancel, prev.status, next.status)) return;
  await workflow.stop(next.executionName, 'the job was cancelled through the API');
  logger.info('execution stopped', { jobId: next.id });
}

/** What the finished jobs held given back: their slots in one write when all held one. */
async function release(tenant: string, ends: Step[]) {
  const ids = ends.map((s) => s.ended!);
  const released = await slots.releaseAll(tenant, ids);
  logger.info('jobs ended', { tenant, jobIds: ids, released });
}

/**
 * No token yet means the answer beat the workflow's token write, which then fails its condition
 * and the workflow goes straight on to the next step. The token stays on the item until that step
 * writes, so the sweep can resume a wait this record failed to.
 */
async function resume(prev: JobImage, next: JobImage) {
  const token = next[INPUT_TOKEN_ATTRIBUTE] ?? prev[INPUT_TOKEN_ATTRIBUTE];
  const resumed = token !== undefined && (await workflow.resume(token));
  logger.info('input answered', { jobId: next.id, resumed });
}

/**
 * The tenant's queued jobs admitted while it has free slots. A pending job that holds a slot the
 * pass did not just give it was admitted by an earlier delivery that failed before the start, so
 * its start is repeated (idempotent by execution name).
 */
async function admitTenant(tenant: string, steps: Step[]): Promise<void> {
  const waiting = steps.flatMap((s) => (s.waiting ? [s.waiting] : []));
  const { admitted, holders } = await admission.admit(tenant, waiting);
  const fresh = new Set(admitted.map((j) => j.id));
  for (const job of waiting) {
    if (!fresh.has(job.id) && holders[job.id]) await admission.start(job);
  }
  logger.info('jobs admitted', { tenant, admitted: [...fresh], records: steps.length });
}

/**
 * One tenant's records in stream order, then a single admission pass for all that asked for one:
 * a flood of submits and ends costs one pass per batch, not one per record. Ends give back their
 * slots together, in one write, before the next record with writes of its own (a redriven job's
 * queue entry must find its slot given back). Returns the record to deliver again: the first that
 * failed (the rest of the tenant's wait for it), or, when the pass fails, the first that asked for
 * it, so the retry runs the pass again.
 */
async function applyTenant(tenant: string, steps: Step[]): Promise<Step | undefined> {
  const admitting: Step[] = [];
  let failed: Step | undefined;
  /** Runs a record's work; on failure, `first` is the record to deliver again. */
  const run = async (first: Step, work: () => Promise<void>) => {
    try {
      await work();
      return true;
    } catch (error) {
      logger.error('stream record failed', { error: error as Error, eventID: first.record.eventID });
      failed = first;
      return false;
    }
  };
  let ending: Step[] = [];
  const releaseEnding = async () => {
    if (ending.length > 0 && !(await run(ending[0]!, () => release(tenant, ending)))) return false;
    ending = [];
    return true;
  };
  for (const step of steps) {
    if (step.apply && !step.ended && !(await releaseEnding())) break;
    // An end's failure leaves the ends before it not given back either: the retry starts from them.
    if (step.apply && !(await run(step.ended ? (ending[0] ?? step) : step, step.apply))) break;
    if (step.ended) ending.push(step);
    if (step.admits) admitting.push(step);
  }
  if (!failed) await releaseEnding();
  if (admitting.length === 0) return failed;
  try {
    await admitTenant(tenant, admitting);
  } catch (error) {
    logger.error('admission failed', { error: error as Error, tenant });
    return admitting[0];
  }
  return failed;
}

/**
 * A batch's records grouped by tenant, the tenant with the fewest records first: admission and
 * slots are per tenant and only a tenant's own records need their order, so a tenant with a job
 * or two waits for no other tenant's flood in the same batch. Lambda retries from the lowest
 * sequence number reported, re-applying every record after it (all idempotent), with backoff,
 * and finally sends the batch to the start DLQ: never silently dropped.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const steps = event.Records.map(stepOf).filter((s): s is Step => s !== undefined);
  const tenants = [...Map.groupBy(steps, (s) => s.tenant).values()].sort((a, b) => a.length - b.length);
  let first: Step | undefined;
  for (const records of tenants) {
    const failed = await applyTenant(records[0]!.tenant, records);
    if (failed && (!first || failed.index < first.index)) first = failed;
  }
  return {
    batchItemFailures: first ? [{ itemIdentifier: first.record.dynamodb?.SequenceNumber ?? '' }] : [],
  };
};
