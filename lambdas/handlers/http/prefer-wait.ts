import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import { MAX_PREFER_WAIT_SECONDS, PREFER_WAIT_MARGIN_SECONDS } from '../../config/routes.js';
import type { Job } from '../../domain/job.js';
import { isTerminal } from '../../domain/job.js';

const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 1_000;

/**
 * The `wait` preference of an RFC 7240 `Prefer` header, in seconds, capped at 20; undefined when
 * absent or malformed (a preference the server does not understand is ignored, never an error).
 * Several headers arrive joined with commas; each preference may carry `;` parameters.
 */
export function preferredWait(prefer: string | undefined): number | undefined {
  for (const preference of prefer?.split(',') ?? []) {
    const [token = '', ...rest] = preference.split(';')[0]!.split('=');
    if (token.trim().toLowerCase() !== 'wait' || rest.length !== 1) continue;
    const value = rest[0]!.trim().replace(/^"(.*)"$/, '$1');
    if (!/^\d{1,6}$/.test(value)) continue;
    return Math.min(Number(value), MAX_PREFER_WAIT_SECONDS);
  }
  return undefined;
}

/**
 * Holds until the job is terminal or the wait is over, re-reading it with backoff (100 ms doubling
 * to 1 s), and never past the function's own deadline minus room to answer. Returns the latest job.
 */
export async function awaitTerminal(
  job: Job,
  waitSeconds: number,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  reload: () => Promise<Job | undefined>,
): Promise<Job> {
  const budgetMs = Math.min(
    waitSeconds * 1000,
    context.getRemainingTimeInMillis() - PREFER_WAIT_MARGIN_SECONDS * 1000,
  );
  const deadline = Date.now() + budgetMs;
  let latest = job;
  for (let delay = FIRST_POLL_MS; !isTerminal(latest.status); delay = Math.min(MAX_POLL_MS, delay * 2)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(delay, left));
    latest = (await reload()) ?? latest;
  }
  return latest;
}

/** The answer to a held request: 200 and Preference-Applied once terminal, else the usual status. */
export function waitOutcome(
  job: Job,
  waitSeconds: number | undefined,
  usualStatus: number,
): { status: number; headers: Record<string, string> } {
  if (waitSeconds === undefined || !isTerminal(job.status)) return { status: usualStatus, headers: {} };
  return { status: 200, headers: { 'Preference-Applied': `wait=${waitSeconds}` } };
}
