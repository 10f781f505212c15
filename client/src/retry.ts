import { ProblemError, type Problem } from './problem.js';
import { retryAfterMs } from './timing.js';

export interface RetryOptions {
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** The backoff's first ceiling (default 500 ms); it doubles per retry. */
  baseDelayMs?: number;
  /** The backoff's largest ceiling (default 30 s). A longer `Retry-After` still wins. */
  maxDelayMs?: number;
  /** Source of the jitter, in [0, 1) (default Math.random). */
  random?: () => number;
}

export type RetryPolicy = Required<RetryOptions>;

export const retryPolicy = (options: RetryOptions = {}): RetryPolicy => ({
  maxRetries: options.maxRetries ?? 5,
  baseDelayMs: options.baseDelayMs ?? 500,
  maxDelayMs: options.maxDelayMs ?? 30_000,
  random: options.random ?? Math.random,
});

/**
 * How safe a request is to send again. `idempotent`: every retryable failure (GETs, cancels, and
 * submits, which carry an Idempotency-Key). `unsent`: only answers that say nothing was done (429),
 * for requests whose repetition could act twice (answering a job's input request).
 */
export type Repeatability = 'idempotent' | 'unsent';

/** Exponential backoff with full jitter, never sooner than the server's Retry-After. */
export function retryDelayMs(policy: RetryPolicy, retry: number, headers?: Headers): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const backoff = policy.random() * ceiling;
  const floor = headers ? (retryAfterMs(headers) ?? 0) : 0;
  return Math.max(backoff, floor);
}

/**
 * Whether an error answer is worth repeating: rate limits, timeouts, server errors and a submit that
 * is still in flight under the same key; never a problem the server marks `retryable: false`, and
 * no other 4xx (repeating bad input gets the same answer).
 */
export function isRetryableAnswer(status: number, problem: Problem | undefined, mode: Repeatability) {
  if (problem?.retryable === false) return false;
  if (status === 429) return true;
  if (mode === 'unsent') return false;
  return status === 408 || status >= 500 || (status === 409 && problem?.code === 'idempotency_key_in_use');
}

/** The problem body of an error answer, read from a copy so the caller can still read the original. */
export async function peekProblem(response: Response): Promise<Problem | undefined> {
  try {
    return new ProblemError(response.status, await response.clone().json()).problem;
  } catch {
    return undefined;
  }
}
