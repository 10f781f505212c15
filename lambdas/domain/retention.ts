import type { Job, JobStatus } from './job.js';
import { isTerminal } from './job.js';

const DAY_SECONDS = 86_400;

export interface RetentionPolicy {
  /** Days a succeeded or cancelled job stays readable after completion. */
  succeededDays: number;
  /** Days a failed job stays readable after completion (longer: someone may need to investigate). */
  failedDays: number;
  /** How long past its own timeout a live job is kept before TTL may remove it as abandoned. */
  liveBackstopDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { succeededDays: 7, failedDays: 30, liveBackstopDays: 30 };

/** When a finished job expires. */
export function terminalExpiry(status: JobStatus, completedAt: Date, policy = DEFAULT_RETENTION): Date {
  const days = status === 'failed' ? policy.failedDays : policy.succeededDays;
  return new Date(completedAt.getTime() + days * DAY_SECONDS * 1000);
}

/**
 * Expiry of a job that is not finished yet: a backstop beyond anything the job can legitimately
 * last (its own timeout) so that TTL never deletes live work; it is reset when the job completes.
 */
export function liveExpiry(createdAt: Date, timeoutSeconds: number, policy = DEFAULT_RETENTION): Date {
  return new Date(createdAt.getTime() + (timeoutSeconds + policy.liveBackstopDays * DAY_SECONDS) * 1000);
}

/** DynamoDB TTL wants epoch seconds. */
export function toTtl(expiresAt: Date | string): number {
  return Math.floor(new Date(expiresAt).getTime() / 1000);
}

/** TTL deletion can lag by up to 48 h, so every read checks expiry itself. */
export function isExpired(expiresAt: string, now: Date): boolean {
  return new Date(expiresAt).getTime() <= now.getTime();
}

/** Time allowed past a job's deadline for the write that ends it (a timeout is recorded after it). */
const END_SLACK_SECONDS = 3_600;

/**
 * Expiry of an event or webhook delivery a job write causes. A terminal write's expire with the job.
 * A live job's cannot know when the job will end, so they take the latest expiry the job can have
 * if it succeeds or is cancelled by its deadline (its timeout counted from its start, or from this
 * write while it waits to start), and never outlive the job's own backstop. A job that ends later
 * than that, or fails (kept longer), has its log's expiry extended by its terminal write; reads
 * go through the job, so nothing of an expired job is ever shown meanwhile.
 */
export function logExpiry(
  job: Pick<Job, 'status' | 'startedAt' | 'updatedAt' | 'timeoutSeconds' | 'expiresAt'>,
  policy = DEFAULT_RETENTION,
): Date {
  const jobExpiry = Date.parse(job.expiresAt);
  if (isTerminal(job.status)) return new Date(jobExpiry);
  const from = Date.parse(job.startedAt ?? job.updatedAt);
  const bound = from + (job.timeoutSeconds + END_SLACK_SECONDS + policy.succeededDays * DAY_SECONDS) * 1000;
  return new Date(Math.min(bound, jobExpiry));
}
