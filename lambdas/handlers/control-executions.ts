import { createLogger } from '../config/logger.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, requireEnv } from '../config/env.js';
import { INPUT_TOKEN_ATTRIBUTE, JOB_SK, TABLE_KEYS } from '../config/table.js';
import { AWAITING_EXECUTION, isTerminal, type Job, madeMove, MOVES } from '../domain/job.js';
import { jobSlotsFromEnv } from '../adapters/dynamo-job-slots.js';
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

/**
 * What a committed write to a job item asks of the workflow. A new pending job (or an expired
 * one replaced under the same id, or a redriven one, each with a new execution name) joins its
 * tenant's queue, and the tenant's queued jobs are admitted while it has free slots; a finished
 * job gives its slot back and lets the next one in; a move to `cancelled` also stops the
 * execution, and an answer (input_required -> running) resumes the waiting task with the token
 * the item still carries.
 */
export async function applyRecord(record: DynamoDBRecord): Promise<void> {
  const next = image(record.dynamodb?.NewImage);
  if (!next || next[TABLE_KEYS.sort] !== JOB_SK) return;
  const prev = image(record.dynamodb?.OldImage);
  if (next.status === AWAITING_EXECUTION && prev?.executionName !== next.executionName) {
    await queueAndAdmit(next, prev !== undefined);
  } else if (isTerminal(next.status) && prev && !isTerminal(prev.status)) {
    if (madeMove(MOVES.cancel, prev.status, next.status)) {
      await workflow.stop(next.executionName, 'the job was cancelled through the API');
      logger.info('execution stopped', { jobId: next.id });
    }
    const released = await slots.release(next.tenant, next.id);
    const { admitted } = await admission.admit(next.tenant);
    logger.info('job ended', { jobId: next.id, released, admitted: admitted.map((j) => j.id) });
  } else if (prev && madeMove(MOVES.answer, prev.status, next.status)) {
    // No token yet means the answer beat the workflow's token write, which then fails its
    // condition and the workflow goes straight on to the next step. The token stays on the item
    // until that step writes, so the sweep can resume a wait this record failed to.
    const token = next[INPUT_TOKEN_ATTRIBUTE] ?? prev[INPUT_TOKEN_ATTRIBUTE];
    const resumed = token !== undefined && (await workflow.resume(token));
    logger.info('input answered', { jobId: next.id, resumed });
  }
}

/**
 * A submit queued its job in the same transaction; a rewrite back to pending (redrive) did not, so
 * it is queued here. A redelivered record finds the job queued or admitted already; if it holds a
 * slot (an earlier delivery admitted it and failed before the start), the start is repeated.
 */
async function queueAndAdmit(job: JobImage, rewritten: boolean) {
  const queued = {
    tenant: job.tenant,
    id: job.id,
    executionName: job.executionName,
    timeoutSeconds: job.timeoutSeconds,
  };
  if (rewritten) await slots.enqueue(queued);
  const { admitted, holders } = await admission.admit(job.tenant);
  if (!admitted.some((j) => j.id === job.id) && holders[job.id]) await admission.start(queued);
  logger.info('job queued', { jobId: job.id, admitted: admitted.map((j) => j.id) });
}

/**
 * Records are applied in order; the first failure is reported back, so the event source retries
 * from it (with backoff) and finally sends the batch to the start DLQ: never silently dropped.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  for (const record of event.Records) {
    try {
      await applyRecord(record);
    } catch (error) {
      logger.error('stream record failed', { error: error as Error, eventID: record.eventID });
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
};
