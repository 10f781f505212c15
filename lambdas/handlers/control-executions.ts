import { createLogger } from '../config/logger.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, requireEnv } from '../config/env.js';
import { INPUT_TOKEN_ATTRIBUTE, JOB_SK, TABLE_KEYS } from '../config/table.js';
import { AWAITING_EXECUTION, type Job, madeMove, MOVES } from '../domain/job.js';

const logger = createLogger();
const workflow = new WorkflowClient(requireEnv(ENV.stateMachineArn));

type JobImage = Job & {
  [TABLE_KEYS.partition]: string;
  [TABLE_KEYS.sort]: string;
  [INPUT_TOKEN_ATTRIBUTE]?: string;
};

const image = (img: unknown) =>
  img ? (unmarshall(img as Record<string, AttributeValue>) as JobImage) : undefined;

/**
 * What a committed write to a job item asks of the workflow. A new pending job (or an expired
 * one replaced under the same id, which gets a new execution name) starts its execution; a move
 * to `cancelled` stops it, and an answer (input_required -> running) resumes the waiting task
 * with the token the item still carries.
 */
export async function applyRecord(record: DynamoDBRecord): Promise<void> {
  const next = image(record.dynamodb?.NewImage);
  if (!next || next[TABLE_KEYS.sort] !== JOB_SK) return;
  const prev = image(record.dynamodb?.OldImage);
  if (next.status === AWAITING_EXECUTION && prev?.executionName !== next.executionName) {
    const outcome = await workflow.start(next.executionName, {
      tenant: next.tenant,
      jobId: next.id,
      pk: next[TABLE_KEYS.partition],
    });
    logger.info('execution start', { jobId: next.id, outcome });
  } else if (madeMove(MOVES.cancel, prev?.status, next.status)) {
    await workflow.stop(next.executionName, 'the job was cancelled through the API');
    logger.info('execution stopped', { jobId: next.id });
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
