import type { JobErrorCode } from './errors.js';
import { DomainError } from './errors.js';

export const JOB_STATUSES = [
  'pending',
  'running',
  'input_required',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** Every allowed move. Terminal states have no way out: the table below is the whole status machine. */
const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  pending: ['running', 'failed', 'cancelled'],
  running: ['running', 'input_required', 'succeeded', 'failed', 'cancelled'],
  input_required: ['running', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses a job may be in for a move to `to`; stores turn this into a write condition. */
export function sourcesOf(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canTransition(from, to));
}

export function assertTransition(from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) {
    throw new DomainError(
      isTerminal(from) ? 'job_terminal' : 'invalid_transition',
      `a ${from} job cannot become ${to}`,
    );
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface JobProgress {
  fraction: number;
  step: number;
  message: string | null;
}

export interface JobError {
  code: JobErrorCode;
  message: string;
  retryable: boolean;
}

export interface InputRequest {
  prompt: string;
}

/** The job as the domain sees it. Storage attributes (keys, TTL, fingerprint) live in the store. */
export interface Job {
  id: string;
  tenant: string;
  agent: string;
  status: JobStatus;
  attempt: number;
  input: JsonValue;
  metadata: Record<string, JsonValue>;
  webhook: { url: string } | null;
  timeoutSeconds: number;
  progress: JobProgress;
  result: JsonValue | null;
  error: JobError | null;
  inputRequest: InputRequest | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  expiresAt: string;
  /** Step Functions execution name: the job id, so operators go from one to the other directly. */
  executionName: string;
  /** Seq of the job's latest event: every write to the job advances it by the events it causes. */
  eventSeq: number;
}

export interface NewJobRequest {
  agent: string;
  input: JsonValue;
  metadata?: Record<string, JsonValue> | undefined;
  webhook?: { url: string } | undefined;
  timeoutSeconds: number;
}

export function newJob(id: string, tenant: string, req: NewJobRequest, now: Date, expiresAt: Date): Job {
  const at = now.toISOString();
  return {
    id,
    tenant,
    agent: req.agent,
    status: 'pending',
    attempt: 1,
    input: req.input,
    metadata: req.metadata ?? {},
    webhook: req.webhook ?? null,
    timeoutSeconds: req.timeoutSeconds,
    progress: { fraction: 0, step: 0, message: null },
    result: null,
    error: null,
    inputRequest: null,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
    completedAt: null,
    expiresAt: expiresAt.toISOString(),
    executionName: id,
    eventSeq: 1,
  };
}

export function jobLinks(id: string) {
  const self = `/v1/jobs/${id}`;
  return { self, cancel: `${self}/cancel`, events: `${self}/events`, stream: `${self}/stream` };
}

/** The public shape of a job (CONTRACT.md "Job resource"); everything internal is left out. */
export function toJobView(job: Job) {
  return {
    id: job.id,
    agent: job.agent,
    status: job.status,
    attempt: job.attempt,
    input: job.input,
    metadata: job.metadata,
    progress: job.progress,
    result: job.status === 'succeeded' ? job.result : null,
    error: job.status === 'failed' ? job.error : null,
    inputRequest: job.status === 'input_required' ? job.inputRequest : null,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    expiresAt: job.expiresAt,
    links: jobLinks(job.id),
  };
}
export type JobView = ReturnType<typeof toJobView>;
