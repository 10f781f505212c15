import type { components } from './api-types.js';

export type Job = components['schemas']['Job'];
export type JobStatus = Job['status'];
/** A job as listings show it: without `input` and `result` (get the job for those). */
export type JobSummary = components['schemas']['JobSummary'];
export type JobEvent = components['schemas']['JobEvent'];
export type CreateJobRequest = components['schemas']['CreateJobRequest'];
export type Agent = components['schemas']['Agent'];
export type UsageReport = components['schemas']['UsageReport'];
export type UsageDay = components['schemas']['UsageDay'];

const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);
const TERMINAL_EVENTS: ReadonlySet<JobEvent['type']> = new Set([
  'job.succeeded',
  'job.failed',
  'job.cancelled',
]);

/** No API call changes a terminal job. */
export const isTerminal = (job: Pick<Job, 'status'>) => TERMINAL.has(job.status);

/** The event after which a job's stream ends. */
export const isTerminalEvent = (event: Pick<JobEvent, 'type'>) => TERMINAL_EVENTS.has(event.type);
