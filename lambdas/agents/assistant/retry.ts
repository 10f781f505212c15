/** The first retry waits up to this long; each further one up to twice as long, capped. */
const BASE_SECONDS = 1;
const CAP_SECONDS = 60;

/**
 * Seconds to wait before model call attempt `failures + 1`: exponential backoff with full jitter
 * (a random wait up to the backoff, so many jobs throttled together do not retry in lockstep), and
 * never sooner than the provider asked with Retry-After. Whole seconds: Step Functions' Wait takes them.
 */
export function retryWaitSeconds(
  failures: number,
  retryAfterSeconds: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(CAP_SECONDS, BASE_SECONDS * 2 ** Math.max(0, failures - 1));
  const jittered = Math.round(random() * ceiling);
  return Math.max(retryAfterSeconds ?? 0, jittered);
}
