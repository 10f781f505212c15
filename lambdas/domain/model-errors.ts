import { parseRetryAfter } from './webhook.js';

/**
 * A model call's failure, as the workflow needs to see it: transient trouble is retried with
 * backoff (never sooner than the provider asked), anything else fails the job at once. Adapters
 * turn every provider error into one of these two; the names are what Step Functions matches on.
 */

/** Why a call may succeed if tried again. */
export type TransientModelReason =
  | 'unreachable'
  | 'timeout'
  | 'idle_timeout'
  | 'throttled'
  | 'server_error'
  | 'not_ready'
  | 'stream_interrupted';

export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
  readonly code = 'model_unavailable';
  readonly retryable = true;
  readonly reason: TransientModelReason;
  /** The provider's own wait before a retry (Retry-After, retry-after-ms), in whole seconds. */
  readonly retryAfterSeconds?: number;
  readonly httpStatus?: number;

  constructor(
    reason: TransientModelReason,
    message: string,
    options: { retryAfterSeconds?: number; httpStatus?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}

/** The provider refused the call (bad request, context too long, auth, validation): not retried. */
export class ModelRefusedError extends Error {
  override readonly name = 'ModelRefusedError';
  readonly code = 'model_error';
  readonly retryable = false;
  readonly httpStatus?: number;

  constructor(message: string, options: { httpStatus?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}

export type ModelCallError = ModelUnavailableError | ModelRefusedError;

export const isModelCallError = (error: unknown): error is ModelCallError =>
  error instanceof ModelUnavailableError || error instanceof ModelRefusedError;

/** HTTP answers worth another try (RFC 9110: 408 and 5xx; 429 after its wait). */
export const isTransientHttpStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * The provider's requested wait, in whole seconds: `retry-after-ms` (OpenAI and compatible servers)
 * is the more precise one and wins; else `Retry-After` as seconds or an HTTP date.
 */
export function providerRetryAfterSeconds(
  header: (name: string) => string | null | undefined,
  now: Date,
): number | undefined {
  const ms = header('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms) / 1000);
  return parseRetryAfter(header('retry-after') ?? undefined, now);
}
