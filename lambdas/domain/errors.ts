import type { GcraDecision } from './gcra.js';

/**
 * Domain errors carry a stable snake_case `code` that clients can branch on. The HTTP edge maps a
 * code to a status (lambdas/handlers/http); nothing below the edge knows about HTTP.
 */
export const ERROR_CODES = [
  'validation_failed',
  'invalid_input',
  'unsupported_media_type',
  'payload_too_large',
  'unauthorized',
  'not_found',
  'unknown_agent',
  /** The agent exists but cannot run in this deployment (it needs a model provider that is not configured). */
  'agent_unavailable',
  'job_terminal',
  'invalid_transition',
  'idempotency_key_mismatch',
  'idempotency_key_in_use',
  'invalid_cursor',
  'rate_limited',
  /** A tenant limit on what it may hold at once (queued jobs) is reached; retry after Retry-After. */
  'quota_exceeded',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldError {
  path: string;
  message: string;
}

export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  readonly code: ErrorCode;
  readonly errors?: FieldError[];

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; errors?: FieldError[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.errors) this.errors = options.errors;
  }
}

export class NotFoundError extends DomainError {
  override readonly name = 'NotFoundError';
  constructor(what = 'job') {
    super('not_found', `${what} not found`);
  }
}

export class ValidationError extends DomainError {
  override readonly name = 'ValidationError';
  constructor(
    message: string,
    errors: FieldError[],
    code: 'validation_failed' | 'invalid_input' = 'validation_failed',
  ) {
    super(code, message, { errors });
  }
}

/** Too many requests of one kind; the client may try again after `retryAfterSeconds`. */
export class RateLimitedError extends DomainError {
  override readonly name = 'RateLimitedError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    /** The request-rate decision behind it, when the refusal came from the store (RateLimit fields). */
    readonly decision?: GcraDecision,
  ) {
    super('rate_limited', message);
  }
}

/** The tenant already has `maxQueuedJobs` jobs waiting; nothing was created. */
export class QuotaExceededError extends DomainError {
  override readonly name = 'QuotaExceededError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('quota_exceeded', message);
  }
}

/** Error codes a failed job can carry in `error.code`. */
export const JOB_ERROR_CODES = [
  'agent_error',
  'step_timeout',
  'job_timeout',
  'model_unavailable',
  /** The model provider refused the call (bad request, context too long, auth): retrying cannot help. */
  'model_error',
  'start_failed',
  /** Nobody answered an input request before its deadline. */
  'input_timeout',
  /** The job's execution was stopped from outside (an operator's StopExecution), not by a cancel. */
  'execution_aborted',
  /** The job's execution ended or never ran, and nothing recorded why; found by the sweep. */
  'execution_lost',
  'internal_error',
] as const;
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];
