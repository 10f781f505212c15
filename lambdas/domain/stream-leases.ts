/**
 * A tenant's open SSE streams, as leases: stream id -> when the lease runs out (epoch ms). A stream
 * gives its lease back when it ends; one whose function was killed before it could is dropped once
 * its lease has run out, which is past the longest a stream can last.
 */
export type StreamLeases = Readonly<Record<string, number>>;

export interface StreamLeaseDecision {
  admitted: boolean;
  /** Leases that have run out: a write that admits a stream drops them. */
  expired: string[];
  /** Refused only: when to try again (Retry-After). */
  retryAfterMs: number;
}

/**
 * A refused client is told to come back after the earliest lease runs out, but within these
 * bounds: most streams end with their job, long before their lease, so the wait is only a hint.
 */
export const STREAM_RETRY_BOUNDS_MS = { min: 1_000, max: 10_000 } as const;

/** Whether one more stream fits beside the unexpired leases, and which leases have run out. */
export function judgeStreamLeases(leases: StreamLeases, max: number, now: number): StreamLeaseDecision {
  const entries = Object.entries(leases);
  const expired = entries.filter(([, until]) => until <= now).map(([id]) => id);
  const live = entries.filter(([, until]) => until > now).map(([, until]) => until);
  if (live.length < max) return { admitted: true, expired, retryAfterMs: 0 };
  const { min, max: ceiling } = STREAM_RETRY_BOUNDS_MS;
  const retryAfterMs = Math.min(ceiling, Math.max(min, Math.min(...live) - now));
  return { admitted: false, expired, retryAfterMs };
}
