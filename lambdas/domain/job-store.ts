import type { ListPosition } from './cursor.js';
import type { JobEvent } from './job-events.js';
import type { Job, JobError, JobProgress, JobStatus, JsonValue } from './job.js';

/** A job plus what the workflow checkpoints between steps. */
export interface StepSnapshot {
  job: Job;
  /** Agent state saved by the last completed step, or null before the first. */
  state: JsonValue | null;
  answer: JsonValue | undefined;
  completedSteps: number;
}

export interface Checkpoint {
  /** Steps completed including the one being recorded. */
  completedSteps: number;
  progress: JobProgress;
  /** What the agent attached to its progress report (already size-capped), or null. */
  progressData?: JsonValue | null;
  state: JsonValue;
}

export interface EventQuery {
  /** Seq of the last event the reader has; the page starts after it (0 for the whole log). */
  after: number;
  limit: number;
  /** The job's createdAt: older events belong to an expired job that once had the same id. */
  since: string;
}

export interface ListQuery {
  status?: JobStatus | undefined;
  limit: number;
  after?: ListPosition | undefined;
}

export interface UnfinishedJob {
  tenant: string;
  jobId: string;
  pk: string;
  executionName: string;
}

/**
 * The jobs table as the rest of the code sees it. Every method is one request at most, except
 * `list` (pages through a filtered index) and the expired-key overwrite in `create`.
 */
export interface JobStore {
  /**
   * One conditional write. `created: false` means an existing job with the same id came back.
   * `replayable` (an Idempotency-Key was sent) looks for that job first, so a replay writes nothing.
   */
  create(
    job: Job,
    fingerprint: string,
    now: Date,
    replayable?: boolean,
  ): Promise<{ job: Job; created: boolean; fingerprint: string }>;
  get(tenant: string, id: string, now: Date): Promise<Job | undefined>;
  list(tenant: string, query: ListQuery, now: Date): Promise<{ jobs: Job[]; next: ListPosition | undefined }>;
  /** Moves a live job to `cancelled`; returns it unchanged when it already was. */
  cancel(tenant: string, id: string, now: Date): Promise<Job>;
  loadForStep(tenant: string, id: string): Promise<StepSnapshot | undefined>;
  /** Records a completed step; false when the job is no longer running (cancelled meanwhile). */
  checkpoint(tenant: string, id: string, checkpoint: Checkpoint, now: Date): Promise<boolean>;
  succeed(
    tenant: string,
    id: string,
    result: JsonValue,
    checkpoint: Omit<Checkpoint, 'state'>,
    now: Date,
  ): Promise<boolean>;
  /** Moves a live job to `failed`; false when it was already terminal. */
  fail(tenant: string, id: string, error: JobError, now: Date): Promise<boolean>;
  /** A page of the job's events in seq order; `next` is the seq to continue after, if more may follow. */
  listEvents(
    tenant: string,
    id: string,
    query: EventQuery,
  ): Promise<{ events: JobEvent[]; next: number | undefined }>;
  /** Appends one event unless its seq is already taken (a redelivered write): false then. */
  putEvent(tenant: string, id: string, event: JobEvent, ttl: number): Promise<boolean>;
  tenantForKey(keyHash: string): Promise<string | undefined>;
  putApiKey(keyHash: string, tenant: string): Promise<void>;
  listUnfinished(): Promise<UnfinishedJob[]>;
}
