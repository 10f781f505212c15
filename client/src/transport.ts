import type { RateLimitPacer } from './rate-limit.js';
import {
  isRetryableAnswer,
  peekProblem,
  type Repeatability,
  retryDelayMs,
  type RetryPolicy,
} from './retry.js';
import { retryAfterMs, sleep } from './timing.js';

export type FetchLike = (request: Request) => Promise<Response>;

/**
 * Sends a request, repeating it while that is safe and useful (see isRetryableAnswer), each attempt
 * paced by the server's rate limit. The request's own signal aborts everything, sleeps included.
 * Returns the last answer, error or not; throws the last network error.
 */
export function retryingFetch(
  fetchImpl: FetchLike,
  policy: RetryPolicy,
  pacer: RateLimitPacer,
  mode: Repeatability,
): FetchLike {
  return async (request) => {
    const signal = request.signal;
    for (let retry = 0; ; retry++) {
      await pacer.acquire(signal);
      let response: Response;
      try {
        response = await fetchImpl(request.clone());
      } catch (error) {
        // A network error may hide a request that was processed: only idempotent ones are repeated.
        if (signal.aborted || mode !== 'idempotent' || retry >= policy.maxRetries) throw error;
        await sleep(retryDelayMs(policy, retry), signal);
        continue;
      }
      pacer.observe(response.headers);
      if (response.status < 400) return response;
      const problem = await peekProblem(response);
      // Only a request-rate refusal holds back every request; a full queue (`quota_exceeded`)
      // concerns submits, and polls of the jobs ahead in it must go on.
      if (response.status === 429 && problem?.code !== 'quota_exceeded')
        pacer.pause(retryAfterMs(response.headers) ?? 0);
      if (retry >= policy.maxRetries || !isRetryableAnswer(response.status, problem, mode)) return response;
      await response.body?.cancel();
      await sleep(retryDelayMs(policy, retry, response.headers), signal);
    }
  };
}
