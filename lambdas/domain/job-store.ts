import type { ListPosition } from './cursor.js';
import type { GcraDecision, GcraPolicy } from './gcra.js';
import type { JobEvent, StepEvent } from './job-events.js';
import type { InputRequest, Job, JobError, JobProgress, JobStatus, JobUsage, JsonValue } from './job.js';
import type { UsageCounts } from './usage.js';

/** A job plus what the workflow checkpoints between steps. */
export interface StepSnapshot {
  job: Job;
  /** Agent state saved by the last completed step, or null before the first. */
  state: JsonValue | null;
  answer: JsonValue | undefined;
  completedSteps: number;
  /** The step whose attempts announced step events last (absent when none did in this run). */
  eventsStep?: number;
  /** Usage of the job's attempts before a redrive, which this attempt's usage adds to. */
  earlierUsage?: JobUsage;
}

export interface Checkpoint {
  /** Steps completed including the one being recorded. */
  completedSteps: number;
  progress: JobProgress;
  /** What the agent attached to its progress report (already size-capped), or null. */
  progressData?: JsonValue | null;
  /** The job's usage after the step, for agents that call a model; left as it was when absent. */
  usage?: JobUsage | undefined;
  /**
   * What the step adds to its tenant's usage counters of `day` (UTC): written with the step, so a
   * retried step, whose write is refused, adds nothing twice.
   */
  tally?: { day: string; counts: UsageCounts } | undefined;
  /**
   * The step's last events, announced by the step's own write ahead of its own events, so they land
   * exactly when the step does. Events beyond one write's bound (stepEventWrites) go first in
   * writes of their own, as appendEvents writes them.
   */
  events?: readonly StepEvent[] | undefined;
  state: JsonValue;
}

export interface EventQuery {
  /** Seq of the last event the reader has; the page starts after it (0 for the whole log). */
  after: number;
  limit: number;
  /** The job's createdAt: an older event in its partition cannot be this job's. */
  since: string;
}

export interface ListQuery {
  status?: JobStatus | undefined;
  limit: number;
  after?: ListPosition | undefined;
}

/** What a submit is held to: the tenant's queued-job bound and, when it is checked here, its request rate. */
export interface SubmitLimits {
  maxQueuedJobs: number;
  requests?: GcraPolicy | undefined;
}

/** A live job as the sweep sees it, from the sparse live index. */
export interface LiveJob {
  tenant: string;
  jobId: string;
  pk: string;
  status: JobStatus;
  executionName: string;
  createdAt: string;
}

/** A position in the live index: a shard and, within it, the key of the last job read. */
export interface SweepCursor {
  shard: number;
  after?: Record<string, string> | undefined;
}

/**
 * The jobs table as the rest of the code sees it. Every method is one request at most, except
 * `list` (pages through a filtered index) and a `create` with an Idempotency-Key (reads, then one
 * transaction; a `create` without one is one transaction).
 */
export interface JobStore {
  /**
   * Stores a new job. With `idempotencyKeyId` (an Idempotency-Key was sent), the job the key
   * created comes back instead while it is readable (`created: false`), and a reuse of the key
   * after that job expired creates a new job with an id of its own. The job joins its tenant's
   * queue; with `limits`, a tenant already holding `maxQueuedJobs` queued jobs is refused
   * (QuotaExceededError) and nothing is written. With `limits.requests`, the tenant's request rate
   * is admitted in the same write (`rate`: the decision), or the submit refused (RateLimitedError).
   */
  create(
    job: Job,
    fingerprint: string,
    now: Date,
    idempotencyKeyId?: string,
    limits?: SubmitLimits,
  ): Promise<{ job: Job; created: boolean; fingerprint: string; rate?: GcraDecision | undefined }>;
  get(tenant: string, id: string, now: Date): Promise<Job | undefined>;
  /** Jobs as listed: what a job summary shows (no input, result or step state), newest first. */
  list(tenant: string, query: ListQuery, now: Date): Promise<{ jobs: Job[]; next: ListPosition | undefined }>;
  /** Moves a live job to `cancelled`; returns it unchanged when it already was. */
  cancel(tenant: string, id: string, now: Date): Promise<Job>;
  loadForStep(tenant: string, id: string): Promise<StepSnapshot | undefined>;
  /**
   * Announces events running step `step` supplies (streamed model text, tool calls) with writes to
   * the job item, which hand out their seqs like any other write; false when the job no longer runs.
   */
  appendEvents(
    tenant: string,
    id: string,
    step: number,
    events: readonly StepEvent[],
    now: Date,
  ): Promise<boolean>;
  /** Records a completed step; false when the job is no longer running (cancelled meanwhile). */
  checkpoint(tenant: string, id: string, checkpoint: Checkpoint, now: Date): Promise<boolean>;
  succeed(
    tenant: string,
    id: string,
    result: JsonValue,
    checkpoint: Omit<Checkpoint, 'state'>,
    now: Date,
  ): Promise<boolean>;
  /**
   * Records a completed step that asks a person for input: the checkpoint and the move to
   * `input_required` are one write; false when the job is no longer running.
   */
  requestInput(
    tenant: string,
    id: string,
    checkpoint: Checkpoint,
    request: InputRequest,
    now: Date,
  ): Promise<boolean>;
  /**
   * Records the answer and moves the job back to `running` (one conditional write); resuming the
   * execution follows from it through the stream. Refused (409) unless the job is input_required.
   */
  submitInput(tenant: string, id: string, answer: JsonValue, now: Date): Promise<Job>;
  /**
   * An answered wait for input whose execution may not have been resumed yet: the job is running
   * again and no step has written since the answer. Undefined otherwise.
   */
  answeredWait(tenant: string, id: string): Promise<{ token: string; answeredAt: string } | undefined>;
  /**
   * Runs a failed job again (operators only): one conditional write back to `pending` with the
   * attempt incremented and a new execution name, which the stream turns into a new execution.
   */
  redrive(tenant: string, id: string, now: Date): Promise<Job>;
  /**
   * Moves a live job to `failed`; false when it was already terminal. With `executionName`, only
   * while that is still the job's execution (an old execution's end must not fail a newer attempt).
   */
  fail(tenant: string, id: string, error: JobError, now: Date, executionName?: string): Promise<boolean>;
  /** A page of the job's events in seq order; `next` is the seq to continue after, if more may follow. */
  listEvents(
    tenant: string,
    id: string,
    query: EventQuery,
  ): Promise<{ events: JobEvent[]; next: number | undefined }>;
  /** Every seq in the job's log, with its time (for repairing a log with gaps). */
  loggedEvents(tenant: string, id: string): Promise<Map<number, string>>;
  /** Appends one event unless its seq is already taken (a redelivered write): false then. */
  putEvent(tenant: string, id: string, event: JobEvent, ttl: number): Promise<boolean>;
  /**
   * Up to `limit` live jobs created before `before` (ISO time), from the sparse live index, read
   * from `from` on; `next` is where the following page starts, undefined once every shard is read.
   */
  listLivePage(
    before: string,
    from: SweepCursor,
    limit: number,
  ): Promise<{ jobs: LiveJob[]; next: SweepCursor | undefined }>;
  /** Where the last sweep stopped (the start of the index when none did). */
  sweepCursor(): Promise<SweepCursor>;
  saveSweepCursor(cursor: SweepCursor): Promise<void>;
}
