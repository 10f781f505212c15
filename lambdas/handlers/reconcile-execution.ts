import { createLogger } from '../config/logger.js';
import type { EventBridgeEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { JobDlq } from '../adapters/job-dlq.js';
import { ENV, requireEnv } from '../config/env.js';
import type { EXECUTION_STATUS_CHANGE, ExecutionInput, ExecutionStatusDetail } from '../config/workflow.js';
import { DATA_LIMIT_EXCEEDED, DATA_LIMIT_FAILURE, jobDlqMessage } from '../config/workflow.js';
import type { JobErrorCode } from '../domain/errors.js';
import { isTerminal } from '../domain/job.js';

const logger = createLogger();
const store = jobStoreFromEnv();
const dlq = new JobDlq(requireEnv(ENV.jobDlqUrl));

/** How an execution that ended on its own terms leaves a job it could not settle. */
const ENDINGS: Record<string, { code: JobErrorCode; message: string; retryable: boolean }> = {
  TIMED_OUT: {
    code: 'job_timeout',
    message: 'the job ran past the workflow execution timeout',
    retryable: false,
  },
  ABORTED: {
    code: 'execution_aborted',
    message: 'the job execution was stopped by an operator',
    retryable: true,
  },
  FAILED: {
    code: 'internal_error',
    message: 'the job could not be run; an operator has been alerted',
    retryable: true,
  },
};

/**
 * Brings a job to `failed` when its execution ended without the workflow settling it (execution
 * timeout, an operator's StopExecution, a runtime error). A job already terminal (settled by the
 * workflow, or cancelled, which also aborts the execution) or on a newer execution is left alone.
 * The DLQ message goes first and the conditional fail second, so a retried event (EventBridge
 * retries a failed invocation) finds the job still live and sends again: at least once, never lost.
 */
/**
 * An execution that failed on a payload over Step Functions' limit failed on what its agent
 * produced, not on an outage: resubmitting would fail the same way.
 */
const endingOf = (detail: ExecutionStatusDetail) =>
  detail.status === 'FAILED' && detail.error === DATA_LIMIT_EXCEEDED
    ? { ...DATA_LIMIT_FAILURE, retryable: false }
    : ENDINGS[detail.status];

export const handler = async (
  event: EventBridgeEvent<typeof EXECUTION_STATUS_CHANGE, ExecutionStatusDetail>,
): Promise<{ failed: boolean }> => {
  const { detail } = event;
  const ending = endingOf(detail);
  const input = parseInput(detail.input);
  if (!ending || !input) {
    logger.warn('execution status change ignored', {
      status: detail.status,
      executionArn: detail.executionArn,
    });
    return { failed: false };
  }
  const job = await store.get(input.tenant, input.jobId, new Date());
  if (!job || isTerminal(job.status) || job.executionName !== detail.name) return { failed: false };
  const { retryable: _, ...error } = ending;
  await dlq.send(
    jobDlqMessage(input, error, {
      failure: { Error: detail.error ?? detail.status, Cause: detail.cause ?? undefined },
      reconciled: { status: detail.status, executionArn: detail.executionArn },
    }),
  );
  const failed = await store.fail(input.tenant, input.jobId, ending, new Date(), detail.name);
  logger.info('execution end reconciled', { jobId: input.jobId, status: detail.status, failed });
  return { failed };
};

function parseInput(text: string | null): ExecutionInput | undefined {
  try {
    const input = JSON.parse(text ?? 'null') as Partial<ExecutionInput> | null;
    return typeof input?.tenant === 'string' &&
      typeof input.jobId === 'string' &&
      typeof input.pk === 'string'
      ? (input as ExecutionInput)
      : undefined;
  } catch {
    return undefined;
  }
}
