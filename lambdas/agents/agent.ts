import type { ParseableSchema } from '../domain/zod-mini.js';
import type { JobUsage, JsonValue, RequestedToolCall } from '../domain/job.js';
import type { StepEvent } from '../domain/job-events.js';
import type { AnsweredCall } from '../domain/usage.js';

/** What an agent sees when it runs one step. */
export interface StepContext<Input, State> {
  jobId: string;
  tenant: string;
  input: Input;
  /** The state the previous step checkpointed, or null before the first step. */
  state: State | null;
  /** Steps completed so far (0 before the first). */
  completedSteps: number;
  /** Aborted when the step times out, the job times out or the job is cancelled: stop promptly. */
  signal: AbortSignal;
  /** The answer to the last input request, once a person gave one. */
  answer: JsonValue | undefined;
  /**
   * Records progress; it is written together with the step's checkpoint and becomes one
   * `job.progress` event. `data` is any JSON up to 4 KiB serialized (larger data is dropped).
   */
  progress(fraction: number, message?: string, data?: JsonValue): void;
  /**
   * Tells the workflow this step is still alive; `progress` counts as one too. An agent with
   * `heartbeatSeconds` must signal at least that often while a step runs. Cheap to call often:
   * signals are folded into at most one heartbeat per quarter of `heartbeatSeconds`. A no-op for
   * agents without `heartbeatSeconds`.
   */
  heartbeat(): void;
  /**
   * Announces events while the step runs (streamed model text, tool calls): one write to the job,
   * in order, before the step's own checkpoint. False when the job no longer runs (cancelled).
   */
  emit(events: readonly StepEvent[]): Promise<boolean>;
  /**
   * Hands over work the step started that the outcome's write need not wait for (settling a token
   * reservation): it runs alongside that write, and the step ends only once it is done. It must
   * not reject; if it does, the rejection is logged and the step's outcome stands.
   */
  alongside(work: Promise<unknown>): void;
  /**
   * What the agent's `prepare` started for this step while the job was read, the first time it is
   * asked for (undefined after that, or when nothing was prepared). Taking it makes the step
   * responsible for it; work no step took is discarded when the invocation ends.
   */
  takePrepared(): Promise<unknown> | undefined;
  /**
   * An earlier attempt of this same step emitted events and did not complete (its call broke off,
   * it timed out, its process died): what it emitted is in the log, and the agent may say it is void.
   */
  earlierAttemptEmitted: boolean;
}

/**
 * What an outcome that records the step may carry besides its own fields. `usage`: the job's token
 * usage after the step (agents that call a model report it with every outcome); `modelCall`: the
 * model call the step got an answer to, which counts once in the tenant's daily usage.
 */
interface Usage {
  usage?: JobUsage;
  modelCall?: AnsweredCall;
  /**
   * Step events announced by the outcome's own write, after any the step emitted and before the
   * write's own events: the step's last events (the end of the streamed text, the answer's tool
   * calls) cost no write of their own, and land only if the step's outcome does.
   */
  events?: StepEvent[];
}

export type StepOutcome<State> =
  /**
   * One more step is needed; `state` is checkpointed so a retried step resumes, not restarts.
   * `nextStepWithinMs`: the most the next step can take, when it is bounded by a timeout of its own
   * (a server tool call). The runner may then run it in this same invocation, right after this
   * step's checkpoint, while that much of the step timeout is left: each step is still its own
   * checkpoint, and the workflow round trip between them (a Lambda invocation, the job's read,
   * state transitions and task callbacks) is saved.
   */
  | ({ type: 'continue'; state: State; nextStepWithinMs?: number } & Usage)
  | ({ type: 'done'; result: JsonValue } & Usage)
  /**
   * Transient trouble (a model provider unreachable or throttling): `state` is checkpointed and the
   * workflow runs the next step after `waitSeconds` (a whole number), without holding a Lambda.
   */
  | ({ type: 'retry'; state: State; waitSeconds: number; message: string } & Usage)
  /** The agent gives up: the job fails with `code` (default `agent_error`); never retried. */
  | { type: 'fail'; message: string; code?: AgentFailureCode }
  /**
   * Ask a person; the job waits in `input_required` until answered. With `schema` (JSON Schema)
   * an answer that does not match is refused with 400 and the job keeps waiting. With `toolCalls`
   * the client is asked to run those tools instead, and answers with `{toolOutputs}`.
   */
  | ({
      type: 'input_required';
      prompt: string;
      schema?: { [key: string]: JsonValue };
      toolCalls?: RequestedToolCall[];
      state: State;
    } & Usage);

/** Error codes an agent may fail a job with. */
export type AgentFailureCode = 'agent_error' | 'model_unavailable' | 'model_error';

/**
 * What is known of an agent without running it: enough to accept, list and bound its jobs. The
 * functions that take requests load only this, never the code that runs the steps.
 */
export interface AgentDescriptor<Input = unknown> {
  name: string;
  /** Recorded on every job the agent runs; a job's result is read against the version that made it. */
  version: string;
  description: string;
  inputSchema: ParseableSchema<Input>;
  /** JSON Schema (draft 2020-12) of the input, generated from `inputSchema`, for agent discovery. */
  inputJsonSchema?: { [key: string]: unknown };
  /** Why the agent cannot run jobs in this deployment (no model provider configured), if it cannot. */
  unavailableReason?(): string | undefined;
  /** Longest one step may run; the step fails with `step_timeout` beyond it. */
  stepTimeoutSeconds: number;
  /**
   * For agents whose single step can run longer than a minute: the most seconds a running step
   * may go without a sign of life (`ctx.heartbeat()` or `ctx.progress()`) before it fails with
   * `step_timeout`, so a hung step is noticed long before its step timeout. A whole number, at
   * least 1 and below `stepTimeoutSeconds`. Steps of such agents run as a callback task that the
   * step keeps alive with heartbeats; without it a step is one plain invocation.
   */
  heartbeatSeconds?: number;
  /** Whole-job bound used when the client gives no `timeoutSeconds`, and the most it may ask for. */
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  /**
   * How long a job waits for an answer unless the client chose (`inputTimeoutSeconds`), and the
   * most it may choose; DEFAULT_INPUT_TIMEOUT when the agent never asks for input.
   */
  inputTimeout?: InputTimeoutLimits;
}

export interface AgentDefinition<Input = unknown, State = unknown> extends AgentDescriptor<Input> {
  step(ctx: StepContext<Input, State>): Promise<StepOutcome<State>>;
  /**
   * Names work the step that loads this checkpoint can start while its job is still being read (the
   * assistant: the tokens of the model call it will make), as a small JSON value (at most
   * MAX_PREPARE_BYTES); undefined for none. The runner asks once it has written the checkpoint (or
   * hands a step to the callback form), and the workflow carries the value to the next invocation.
   */
  prepareFor?(checkpoint: { input: Input; state: State | null }): JsonValue | undefined;
  /**
   * Starts the work `prepareFor` named, beside the job's read; the step takes it with
   * `ctx.takePrepared()`. Only the callback form (agents with `heartbeatSeconds`) carries the value.
   * Must not throw; undefined when there is nothing to start.
   */
  prepare?(tenant: string, value: JsonValue): PreparedWork | undefined;
}

/** Work started before a step's job was read. */
export interface PreparedWork {
  readonly result: Promise<unknown>;
  /** Undoes the work when no step took it (the job no longer runs, its task had ended). Never rejects. */
  discard(): Promise<void>;
}

/** The most a `prepareFor` value may take as JSON; a larger one is dropped. */
export const MAX_PREPARE_BYTES = 1024;

export interface InputTimeoutLimits {
  defaultSeconds: number;
  maxSeconds: number;
}

export const DEFAULT_INPUT_TIMEOUT: InputTimeoutLimits = { defaultSeconds: 900, maxSeconds: 86_400 };

export const inputTimeoutOf = (agent: Pick<AgentDescriptor, 'inputTimeout'>) =>
  agent.inputTimeout ?? DEFAULT_INPUT_TIMEOUT;

/** Transient trouble (a model provider's 5xx, throttling): the workflow retries the step with backoff. */
export class TransientStepError extends Error {
  override readonly name = 'TransientStepError';
}
