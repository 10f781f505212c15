import { createLogger } from '../config/logger.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import type { MarkFailedEvent, MarkFailedResult } from '../config/workflow.js';
import {
  DATA_LIMIT_EXCEEDED,
  DATA_LIMIT_FAILURE,
  MAX_ERROR_MESSAGE_CHARS,
  TRANSIENT_STEP_ERROR,
} from '../config/workflow.js';
import type { JobErrorCode } from '../domain/errors.js';
import { JOB_ERROR_CODES } from '../domain/errors.js';

const logger = createLogger();
const store = jobStoreFromEnv();

/** Codes a client may usefully retry by submitting again (the cause was not the job itself). */
const RETRYABLE: ReadonlySet<JobErrorCode> = new Set(['model_unavailable', 'internal_error', 'start_failed']);

/**
 * Step Functions error names -> job error codes. Causes can hold stack traces, so clients get a
 * stable message; the full cause travels with the job DLQ message for operators.
 */
function fromCaught(errorName: string): { code: JobErrorCode; message: string } {
  if (errorName === 'States.Timeout' || errorName === 'Sandbox.Timedout') {
    return { code: 'step_timeout', message: 'an agent step did not finish in time' };
  }
  if (errorName === 'States.HeartbeatTimeout') {
    return { code: 'step_timeout', message: 'an agent step stopped sending heartbeats' };
  }
  if (errorName === DATA_LIMIT_EXCEEDED) return { ...DATA_LIMIT_FAILURE };
  if (errorName === TRANSIENT_STEP_ERROR) {
    return {
      code: 'model_unavailable',
      message: 'the model provider stayed unavailable through every retry',
    };
  }
  return { code: 'internal_error', message: 'the job could not be run; an operator has been alerted' };
}

/**
 * The step's own error, as far as it keeps the contract: a code failed jobs may carry (else the
 * agent's error) and a bounded message.
 */
function fromStep(error: { code: unknown; message: unknown }): { code: JobErrorCode; message: string } {
  const code = (JOB_ERROR_CODES as readonly unknown[]).includes(error.code)
    ? (error.code as JobErrorCode)
    : 'agent_error';
  const message = typeof error.message === 'string' ? error.message : 'the agent step failed';
  return { code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) };
}

export const handler = async (event: MarkFailedEvent): Promise<MarkFailedResult> => {
  const error = event.step?.error
    ? fromStep(event.step.error)
    : fromCaught(event.failure?.Error ?? 'States.Runtime');
  const failed = await store.fail(
    event.tenant,
    event.jobId,
    { ...error, retryable: RETRYABLE.has(error.code) },
    new Date(),
  );
  logger.info('job failure recorded', {
    jobId: event.jobId,
    code: error.code,
    changed: failed,
    caught: event.failure?.Error,
  });
  return { failed, jobId: event.jobId, tenant: event.tenant, error };
};
