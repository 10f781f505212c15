import { createLogger } from '../config/logger.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import type { MarkFailedEvent, MarkFailedResult } from '../config/workflow.js';
import { TRANSIENT_STEP_ERROR } from '../config/workflow.js';
import type { JobErrorCode } from '../domain/errors.js';

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
  if (errorName === TRANSIENT_STEP_ERROR) {
    return {
      code: 'model_unavailable',
      message: 'the model provider stayed unavailable through every retry',
    };
  }
  return { code: 'internal_error', message: 'the job could not be run; an operator has been alerted' };
}

export const handler = async (event: MarkFailedEvent): Promise<MarkFailedResult> => {
  const error = event.step?.error ?? fromCaught(event.failure?.Error ?? 'States.Runtime');
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
