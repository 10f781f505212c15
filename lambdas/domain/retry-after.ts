import type { Job } from './job.js';
import { isTerminal } from './job.js';

export const MIN_RETRY_AFTER = 1;
export const MAX_RETRY_AFTER = 30;

const clamp = (n: number) => Math.min(MAX_RETRY_AFTER, Math.max(MIN_RETRY_AFTER, Math.round(n)));

/**
 * How long a client should wait before polling again, in whole seconds (1..30), or undefined for a
 * terminal job (no header then). Short right after start and near the end, longer for long jobs:
 * poll at about a tenth of the time already spent, or half the estimated remaining time once the
 * agent reports progress, whichever is sooner.
 */
export function retryAfterSeconds(
  job: Pick<Job, 'status' | 'createdAt' | 'startedAt' | 'progress'>,
  now: Date,
) {
  if (isTerminal(job.status)) return undefined;
  if (job.status === 'pending') return MIN_RETRY_AFTER;
  // A person has to answer; nothing changes faster than that.
  if (job.status === 'input_required') return 10;
  const since = new Date(job.startedAt ?? job.createdAt).getTime();
  const elapsed = Math.max(0, (now.getTime() - since) / 1000);
  const byElapsed = elapsed / 10;
  const fraction = job.progress.fraction;
  if (fraction > 0 && fraction < 1) {
    const remaining = (elapsed * (1 - fraction)) / fraction;
    return clamp(Math.min(byElapsed, remaining / 2));
  }
  return clamp(byElapsed);
}
