import type { JobErrorCode } from '../domain/errors.js';
import type { JsonValue } from '../domain/job.js';

/**
 * The contract between the state machine (lib/workflows) and the Lambda tasks it calls. State
 * names are shared because the local runner maps each Task state to its handler by name.
 */
export const WORKFLOW_STATES = {
  markRunning: 'MarkRunning',
  agentStep: 'AgentStep',
  agentStepWithHeartbeat: 'AgentStepWithHeartbeat',
  routeOutcome: 'RouteOutcome',
  waitBeforeRetry: 'WaitBeforeRetry',
  waitForInput: 'WaitForInput',
  inputTimedOut: 'InputTimedOut',
  markFailed: 'MarkFailed',
  failedHere: 'FailedHere',
  sendToJobDlq: 'SendToJobDlq',
  jobSucceeded: 'JobSucceeded',
  jobSettled: 'JobSettled',
  jobFailed: 'JobFailed',
} as const;

/** Task state name -> handler file under lambdas/handlers (Lambda-backed tasks only). */
export const LAMBDA_TASKS: Record<string, string> = {
  [WORKFLOW_STATES.agentStep]: 'agent-step',
  [WORKFLOW_STATES.agentStepWithHeartbeat]: 'agent-step',
  [WORKFLOW_STATES.markFailed]: 'mark-failed',
};

/** The execution's input, built by the stream consumer from the job item. */
export interface ExecutionInput {
  tenant: string;
  jobId: string;
  /** The job item's partition key, for the DynamoDB service-integration tasks. */
  pk: string;
}

export interface AgentStepEvent {
  tenant: string;
  jobId: string;
  /**
   * Set by AgentStepWithHeartbeat, the callback form: the step then reports liveness and its
   * result through this token instead of returning the result.
   */
  taskToken?: string;
  /** Passed by AgentStepWithHeartbeat: the result of the step before (RouteOutcome's input). */
  previous?: AgentStepResult;
}

export type StepOutcomeName = 'continue' | 'done' | 'stopped' | 'failed' | 'input_required' | 'retry';

export interface AgentStepResult {
  outcome: StepOutcomeName;
  error?: { code: JobErrorCode; message: string };
  /** With `input_required`: how long WaitForInput waits, and the error code when nobody answers. */
  inputTimeoutSeconds?: number;
  onInputTimeout?: 'input_timeout' | 'job_timeout';
  /**
   * With `continue`, for agents that declare heartbeats: the next step runs as
   * AgentStepWithHeartbeat, which fails when this many seconds pass without a heartbeat.
   */
  heartbeatSeconds?: number;
  /**
   * With `continue`: what the step left for the next one's `prepare` (AgentDefinition.prepare),
   * which the callback form starts while it reads the job.
   */
  prepare?: { agent: string; value: JsonValue };
  /** With `retry`: whole seconds WaitBeforeRetry waits before the next step. */
  waitSeconds?: number;
}

/** What MarkFailed receives: the execution state, with either the step's failure or a caught error. */
export interface MarkFailedEvent extends ExecutionInput {
  step?: AgentStepResult;
  failure?: { Error: string; Cause?: string };
}

export interface MarkFailedResult {
  /** True when this call moved the job to `failed` (then it goes to the job DLQ). */
  failed: boolean;
  jobId: string;
  tenant: string;
  error: { code: JobErrorCode; message: string };
}

/**
 * A job DLQ message: the execution state when the job failed, plus who failed it and why. The
 * workflow's SendToJobDlq sends its whole state (the MarkFailed event with `markFailed`, or
 * `markFailedError` when MarkFailed itself failed); the reconciler and the sweep, which fail jobs
 * outside the workflow, build theirs with `jobDlqMessage` and say so in `reconciled` / `swept`.
 * `agent-jobs dlq` reads them all as this type.
 */
export interface JobDlqMessage extends MarkFailedEvent {
  markFailed?: MarkFailedResult;
  markFailedError?: { Error: string; Cause?: string };
  reconciled?: { status: string; executionArn: string };
  swept?: { status: string; executionName: string };
}

/** The message of a job failed outside the workflow, shaped like the workflow's own. */
export function jobDlqMessage(
  input: ExecutionInput,
  error: MarkFailedResult['error'],
  by: Pick<JobDlqMessage, 'failure' | 'reconciled' | 'swept'>,
): JobDlqMessage {
  return {
    ...input,
    ...by,
    markFailed: { failed: true, jobId: input.jobId, tenant: input.tenant, error },
  };
}

/** Error name a step throws for transient trouble; the AgentStep Retry matches on it. */
export const TRANSIENT_STEP_ERROR = 'TransientStepError';

/**
 * A state's input or output over Step Functions' payload limit (256 KB). States.ALL does not match
 * it, so every Task that catches everything names it too; the job then fails as the agent's.
 */
export const DATA_LIMIT_EXCEEDED = 'States.DataLimitExceeded';

/** What a failed job says when a step's data passed the workflow's payload limit. */
export const DATA_LIMIT_FAILURE = {
  code: 'agent_error',
  message: "a step produced more data than the workflow can carry (Step Functions' 256 KB payload limit)",
} as const;

/** Longest error message a failed job keeps: it is shown to clients and travels through the workflow. */
export const MAX_ERROR_MESSAGE_CHARS = 1_000;

/** Extra seconds the Task timeout allows beyond the longest agent step, for the checkpoint write. */
export const STEP_TIMEOUT_MARGIN_SECONDS = 20;

/** Extra seconds the execution-level timeout allows beyond the longest job any agent may run. */
export const EXECUTION_TIMEOUT_MARGIN_SECONDS = 300;

/** EventBridge's detail-type for Step Functions execution status changes. */
export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';

/** The `detail` of that event (the local stack builds the same shape). */
export interface ExecutionStatusDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  input: string | null;
  error: string | null;
  cause: string | null;
}

export function executionArn(stateMachineArn: string, executionName: string): string {
  const [prefix, name] = stateMachineArn.split(':stateMachine:');
  return `${prefix}:execution:${name}:${executionName}`;
}
