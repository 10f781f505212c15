import type { Readiness } from './model-provider.js';

/** Readiness answers are reused this long: the contract allows at most 30 s. */
export const READINESS_CACHE_MS = 30_000;

/**
 * Wraps a provider's readiness check so that a burst of `/health/ready` calls costs one request
 * to the provider per interval, and concurrent callers share the one in flight. A check that
 * throws counts as not ready and is cached like any other answer.
 */
export function cachedReadiness(
  check: () => Promise<Readiness>,
  ttlMs = READINESS_CACHE_MS,
  now: () => number = () => Date.now(),
): () => Promise<Readiness> {
  let cached: { at: number; answer: Promise<Readiness> } | undefined;
  return () => {
    const at = now();
    if (cached && at - cached.at < ttlMs) return cached.answer;
    const answer = check().catch((error: unknown): Readiness => ({
      ok: false,
      reason: `readiness check failed (${(error as Error)?.name ?? 'Error'})`,
    }));
    cached = { at, answer };
    return answer;
  };
}
