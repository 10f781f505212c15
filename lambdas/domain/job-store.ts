import type { ListPosition } from './cursor.js';
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
  state: JsonValue;
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
  tenantForKey(keyHash: string): Promise<string | undefined>;
  putApiKey(keyHash: string, tenant: string): Promise<void>;
  listUnfinished(): Promise<UnfinishedJob[]>;
}
