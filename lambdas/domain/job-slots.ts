import type { JobStatus } from './job.js';
import { isTerminal } from './job.js';

/**
 * Per-tenant running-job slots. A job runs only while it holds one of its tenant's
 * `maxRunningJobs` slots; the others wait in the tenant's queue in submit order. A slot is a lease
 * held by the job id: it is released when the job ends, and a lease whose holder is gone (or
 * outlived its deadline) is taken back by the sweep.
 */

/** One job's hold on a slot: when it was taken and until when it is trusted without its holder. */
export interface SlotLease {
  /** Epoch milliseconds. */
  at: number;
  until: number;
}

/**
 * Past the job's own deadline (which counts from its start) by this much, a lease is stale whatever
 * its holder says: the workflow fails an overrunning job well within it.
 */
export const LEASE_MARGIN_SECONDS = 900;

/** The lease a job admitted at `now` takes. */
export const leaseFor = (now: number, timeoutSeconds: number): SlotLease => ({
  at: now,
  until: now + (timeoutSeconds + LEASE_MARGIN_SECONDS) * 1000,
});

/**
 * Whether a held slot is still its holder's. A holder that is finished, gone (expired, deleted) or
 * past its lease has leaked the slot: its release was lost (a crash, a dropped stream record).
 */
export function leaseVerdict(
  lease: SlotLease,
  holder: { status: JobStatus } | undefined,
  now: number,
): 'keep' | 'release' {
  if (!holder || isTerminal(holder.status) || lease.until <= now) return 'release';
  return 'keep';
}

/**
 * What the sweep does with a pending job it finds: one holding a slot has only its execution start
 * to repeat; one in the queue waits its turn; one in neither (its queue entry was lost) is queued
 * again, behind the jobs already waiting.
 */
export function pendingRepair(place: { holdsSlot: boolean; queued: boolean }): 'start' | 'wait' | 'enqueue' {
  if (place.holdsSlot) return 'start';
  return place.queued ? 'wait' : 'enqueue';
}

/** Jobs that may be admitted now: free slots, never negative (a lowered limit leaves extra holders). */
export const freeSlots = (running: number, maxRunningJobs: number) => Math.max(0, maxRunningJobs - running);

/** Retry-After bounds for a submit refused over `maxQueuedJobs`. */
const MIN_RETRY_SECONDS = 1;
const MAX_RETRY_SECONDS = 60;

/**
 * When a refused submit is worth trying again: when one queued job is likely to have been
 * admitted. With nothing else known, a running job is expected to run about as long again as it
 * has so far, so with `n` holders one slot frees about every (median age / n). Bounded to
 * 1..60 s; no holders (nothing draining the queue yet) answers the upper bound.
 */
export function queueRetryAfterSeconds(leases: readonly SlotLease[], now: number): number {
  if (leases.length === 0) return MAX_RETRY_SECONDS;
  const ages = leases.map((l) => Math.max(0, now - l.at)).sort((a, b) => a - b);
  const median = ages[Math.floor(ages.length / 2)]!;
  const seconds = Math.ceil(median / leases.length / 1000);
  return Math.min(MAX_RETRY_SECONDS, Math.max(MIN_RETRY_SECONDS, seconds));
}
