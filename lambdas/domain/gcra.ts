/**
 * Generic Cell Rate Algorithm for "`limit` requests per `windowMs`", with a burst of the whole
 * limit. The state is one number, the theoretical arrival time (TAT): when the bucket would be
 * empty again if no further request came. A request at `now` is admitted when admitting it keeps
 * the TAT within one window of `now`; admitting moves the TAT one emission interval further.
 */
export interface GcraPolicy {
  /** Requests per window (at least 1). */
  limit: number;
  windowMs: number;
}

export interface GcraDecision {
  admitted: boolean;
  /** The TAT to store when admitted (unchanged TAT when refused). */
  tat: number;
  /** Requests that would still be admitted right after this one. */
  remaining: number;
  /** Milliseconds until the bucket is full again (RateLimit `t`). */
  resetMs: number;
  /** Refused only: milliseconds until one request fits (Retry-After). */
  retryAfterMs: number;
}

/**
 * Whole milliseconds, rounded down: TATs stay exact integers however long the bucket lives (no
 * float drift at the admission edge), at the price of at most a millisecond per request in favour
 * of the client, so `limit` requests always fit in a burst.
 */
export const emissionIntervalMs = (p: GcraPolicy) => Math.max(1, Math.floor(p.windowMs / p.limit));

/** The decision for a request at `now` given the stored TAT (undefined: never used, a full bucket). */
export function gcraDecide(policy: GcraPolicy, storedTat: number | undefined, now: number): GcraDecision {
  const interval = emissionIntervalMs(policy);
  const tat = Math.max(storedTat ?? now, now);
  const next = tat + interval;
  if (next - now > policy.windowMs) {
    return {
      admitted: false,
      tat,
      remaining: 0,
      resetMs: tat - now,
      retryAfterMs: next - now - policy.windowMs,
    };
  }
  return admittedAt(policy, next, now);
}

/** The decision for a request admitted at `now` that moved the TAT to `tat`. */
export function admittedAt(policy: GcraPolicy, tat: number, now: number): GcraDecision {
  const free = policy.windowMs - (tat - now);
  const remaining = Math.max(0, Math.floor(free / emissionIntervalMs(policy)));
  return { admitted: true, tat, remaining, resetMs: Math.max(0, tat - now), retryAfterMs: 0 };
}

/**
 * The highest TAT at which one more request is still admitted: the limit a store's conditional
 * write checks, so the admission test runs inside the write instead of after a read.
 */
export const latestAdmissibleTat = (policy: GcraPolicy, now: number) =>
  now + policy.windowMs - emissionIntervalMs(policy);

/** Whole seconds, rounded up, never 0 for a wait that is not over: what Retry-After and `t` carry. */
export const ceilSeconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000 - 1e-9));
