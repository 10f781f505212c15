import type { JobErrorCode } from './errors.js';

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

/**
 * Every move of a job's own run, named by the write that makes it: the whole status machine. Each
 * writer's status condition (the store's updates, the workflow's DynamoDB tasks) is its move's
 * `from`. Terminal states have no move out; the one way out of one is an operator's redrive of a
 * failed job (canRedrive), which starts a new attempt rather than continuing this one.
 */
export const MOVES = {
  /** The workflow starts the job; a running one is started again by a resumed execution. */
  start: { from: ['pending', 'running'], to: 'running' },
  /** A step that ends with more to do checkpoints the job. */
  checkpoint: { from: ['running'], to: 'running' },
  /** A step that asks a person for input; the workflow then waits while the job is `to`. */
  requestInput: { from: ['running'], to: 'input_required' },
  /** The answer to that request. */
  answer: { from: ['input_required'], to: 'running' },
  succeed: { from: ['running'], to: 'succeeded' },
  fail: { from: ['pending', 'running', 'input_required'], to: 'failed' },
  cancel: { from: ['pending', 'running', 'input_required'], to: 'cancelled' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus }>;
export type JobMove = keyof typeof MOVES;

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return Object.values(MOVES).some((m) => m.to === to && (m.from as readonly JobStatus[]).includes(from));
}

/**
 * An operator's redrive is the one way out of a terminal state (API contract): a failed job runs
 * again as a new attempt, under a new execution name, since Step Functions keeps names for 90 days.
 */
export const REDRIVE = { from: ['failed'], to: 'pending' } as const satisfies {
  from: readonly JobStatus[];
  to: JobStatus;
};

/** Where a submit puts a job and a redrive returns it: it waits there for its execution to start. */
export const AWAITING_EXECUTION = REDRIVE.to;

/**
 * Whether a committed write made `move`, judged from the job's status before it (none for a new
 * item) and after it, as a stream record's two images show them.
 */
export function madeMove(
  move: { readonly from: readonly JobStatus[]; readonly to: JobStatus },
  before: JobStatus | undefined,
  after: JobStatus,
): boolean {
  return before !== undefined && move.from.includes(before) && after === move.to;
}

export function canRedrive(status: JobStatus): boolean {
  return (REDRIVE.from as readonly JobStatus[]).includes(status);
}

export const redriveExecutionName = (id: string, attempt: number) => `${id}-r${attempt}`;

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

/** A tool call the client is asked to run (API contract, client tools). */
export interface RequestedToolCall {
  id: string;
  name: string;
  arguments: { [key: string]: JsonValue };
}

/**
 * What a job waiting for input asks: a person's answer to a question (`type: "question"`, optionally
 * with a JSON Schema the answer must match), or the outputs of client tool calls (`type: "tool_calls"`).
 * Requests stored before `type` existed are questions.
 */
export interface InputRequest {
  type?: 'question' | 'tool_calls';
  prompt: string;
  /** JSON Schema the answer must match, when the agent gave one. */
  schema?: { [key: string]: JsonValue };
  /** With `type: "tool_calls"`: the calls the answer must give one output each for. */
  toolCalls?: RequestedToolCall[];
}

/** Token usage of a job's answered model calls (API contract, v1.1); null for agents that call no model. */
export interface JobUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  modelCalls: number;
  /** Null when the model's price is unknown. */
  costUsd: number | null;
}

/**
 * The job's usage: what earlier attempts (before a redrive) used plus what this attempt's agent
 * reports, so each answered call stays counted once, whichever attempt made it.
 */
export function jobUsage(earlier: JobUsage | undefined, attempt: JobUsage): JobUsage {
  if (!earlier) return attempt;
  const inputTokens = earlier.inputTokens + attempt.inputTokens;
  const outputTokens = earlier.outputTokens + attempt.outputTokens;
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    modelCalls: earlier.modelCalls + attempt.modelCalls,
    costUsd: earlier.costUsd === null || attempt.costUsd === null ? null : earlier.costUsd + attempt.costUsd,
  };
}

/** Values that may be left out of a job as events and webhooks carry it (they stay small). */
export type OmittedValue = 'input' | 'metadata' | 'result';

/** The job as the domain sees it. Storage attributes (keys, TTL, fingerprint) live in the store. */
export interface Job {
  id: string;
  tenant: string;
  agent: string;
  /** The version of the agent that runs the job (null for jobs stored before versions were kept). */
  agentVersion: string | null;
  status: JobStatus;
  attempt: number;
  input: JsonValue;
  metadata: Record<string, JsonValue>;
  webhook: { url: string } | null;
  timeoutSeconds: number;
  /** How long the job may wait for an answer to one input request, when the client chose. */
  inputTimeoutSeconds?: number | undefined;
  progress: JobProgress;
  result: JsonValue | null;
  error: JobError | null;
  inputRequest: InputRequest | null;
  usage: JobUsage | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  expiresAt: string;
  /** Step Functions execution name: the job id, so operators go from one to the other directly. */
  executionName: string;
  /** Seq of the job's latest event: every write to the job advances it by the events it causes. */
  eventSeq: number;
  /**
   * Large values this copy of the job leaves out (shown as null, metadata as {}): events and
   * webhooks carry a job without them; the job itself (GET) always has them whole.
   */
  omitted?: OmittedValue[] | undefined;
}

export interface NewJobRequest {
  agent: string;
  agentVersion?: string | undefined;
  input: JsonValue;
  metadata?: Record<string, JsonValue> | undefined;
  webhook?: { url: string } | undefined;
  timeoutSeconds: number;
  inputTimeoutSeconds?: number | undefined;
}

export function newJob(id: string, tenant: string, req: NewJobRequest, now: Date, expiresAt: Date): Job {
  const at = now.toISOString();
  return {
    id,
    tenant,
    agent: req.agent,
    agentVersion: req.agentVersion ?? null,
    status: AWAITING_EXECUTION,
    attempt: 1,
    input: req.input,
    metadata: req.metadata ?? {},
    webhook: req.webhook ?? null,
    timeoutSeconds: req.timeoutSeconds,
    ...(req.inputTimeoutSeconds === undefined ? {} : { inputTimeoutSeconds: req.inputTimeoutSeconds }),
    progress: { fraction: 0, step: 0, message: null },
    result: null,
    error: null,
    inputRequest: null,
    usage: null,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
    completedAt: null,
    expiresAt: expiresAt.toISOString(),
    executionName: id,
    eventSeq: 1,
  };
}

/** Why a wait for input ended unanswered: its own deadline, or the job's, whichever came first. */
export type InputWaitTimeout = 'input_timeout' | 'job_timeout';

/**
 * How long the workflow waits for an answer: the job's own choice (else the agent's default),
 * never beyond the job's deadline, because time spent waiting counts against the whole run.
 */
export function inputWait(
  job: Pick<Job, 'timeoutSeconds' | 'inputTimeoutSeconds' | 'startedAt' | 'createdAt'>,
  defaultSeconds: number,
  now: Date,
): { seconds: number; onTimeout: InputWaitTimeout } {
  const wanted = job.inputTimeoutSeconds ?? defaultSeconds;
  const started = new Date(job.startedAt ?? job.createdAt).getTime();
  const jobLeft = Math.ceil((started + job.timeoutSeconds * 1000 - now.getTime()) / 1000);
  // Step Functions takes a whole number of seconds, at least one.
  if (jobLeft < wanted) return { seconds: Math.max(1, jobLeft), onTimeout: 'job_timeout' };
  return { seconds: Math.max(1, wanted), onTimeout: 'input_timeout' };
}

export function jobLinks(id: string) {
  const self = `/v1/jobs/${id}`;
  return { self, cancel: `${self}/cancel`, events: `${self}/events`, stream: `${self}/stream` };
}

/** Requests stored before `type` existed are questions. */
const inputRequestView = (request: InputRequest | null): InputRequest | null =>
  request && { type: 'question', ...request };

/** The public shape of a job (API contract, "Job resource"); everything internal is left out. */
export function toJobView(job: Job) {
  return {
    id: job.id,
    agent: job.agent,
    agentVersion: job.agentVersion,
    status: job.status,
    attempt: job.attempt,
    input: job.input,
    metadata: job.metadata,
    progress: job.progress,
    result: job.status === 'succeeded' ? job.result : null,
    error: job.status === 'failed' ? job.error : null,
    inputRequest: job.status === 'input_required' ? inputRequestView(job.inputRequest) : null,
    usage: job.usage,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    expiresAt: job.expiresAt,
    links: jobLinks(job.id),
    ...(job.omitted?.length ? { omitted: job.omitted } : {}),
  };
}
export type JobView = ReturnType<typeof toJobView>;

/**
 * A job as listed (API contract v1.1): the view without `input` and `result`, the two values that
 * can be large; a client fetches the job for them.
 */
export function toJobSummary(job: Job) {
  const { input: _input, result: _result, omitted, ...summary } = toJobView(job);
  // Input and result are never listed; metadata may still be only referenced.
  const stillOmitted = omitted?.filter((name) => name === 'metadata');
  return stillOmitted?.length ? { ...summary, omitted: stillOmitted } : summary;
}
