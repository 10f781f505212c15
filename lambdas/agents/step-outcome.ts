import { isUsableSchema } from '../domain/input-answer.js';
import type { InputRequest, JobUsage, JsonValue, RequestedToolCall } from '../domain/job.js';
import { STEP_EVENT_TYPES, type StepEvent } from '../domain/job-events.js';
import { MAX_LARGE_VALUE_BYTES } from '../domain/large-values.js';
import { jsonBytes, unstorable } from '../domain/stored-json.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../config/workflow.js';
import type { AnsweredCall } from '../domain/usage.js';
import type { AgentFailureCode, StepOutcome } from './agent.js';

/** Prompts are shown to people and stored on the job: longer ones are cut. */
export const MAX_PROMPT_CHARS = 4_000;
/** The JSON Schema of an input request is stored on the job and listed: it must stay small. */
export const MAX_INPUT_SCHEMA_BYTES = 16 * 1024;
/** The tool calls of an input request are stored on the job item (and shown) as they are: bounded. */
export const MAX_TOOL_CALLS_BYTES = 64 * 1024;

const OUTCOME_TYPES: ReadonlySet<unknown> = new Set(['continue', 'done', 'fail', 'input_required', 'retry']);
const FAIL_CODES: ReadonlySet<unknown> = new Set(['agent_error', 'model_unavailable', 'model_error']);
/** Step Functions' Wait takes at most a year; a retry is never worth waiting that long. */
export const MAX_RETRY_WAIT_SECONDS = 3_600;

interface Usage {
  usage?: JobUsage;
  modelCall?: AnsweredCall;
  events?: StepEvent[];
}

/** An outcome that kept the agent contract, as plain JSON. */
export type CheckedOutcome =
  | ({ type: 'continue'; state: JsonValue; nextStepWithinMs?: number } & Usage)
  | ({ type: 'done'; result: JsonValue } & Usage)
  | ({ type: 'retry'; state: JsonValue; waitSeconds: number; message: string } & Usage)
  | { type: 'fail'; message: string; code: AgentFailureCode }
  | ({ type: 'input_required'; request: InputRequest; state: JsonValue } & Usage);

const usageOf = (outcome: Record<string, JsonValue>): Usage => ({
  ...(outcome.usage === undefined || outcome.usage === null
    ? {}
    : { usage: outcome.usage as unknown as JobUsage }),
  ...(isAnsweredCall(outcome.modelCall) ? { modelCall: outcome.modelCall } : {}),
  ...(Array.isArray(outcome.events) && outcome.events.length > 0
    ? { events: outcome.events as unknown as StepEvent[] }
    : {}),
});

const STEP_EVENT_TYPE_SET: ReadonlySet<unknown> = new Set(STEP_EVENT_TYPES);

/** Events an outcome hands over: absent, or a list of step events (see StepEvent). */
const isStepEventList = (value: JsonValue | undefined) =>
  value === undefined ||
  (Array.isArray(value) &&
    value.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        !Array.isArray(e) &&
        STEP_EVENT_TYPE_SET.has(e.type) &&
        'data' in e,
    ));

const isCount = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;

/** Counted into the tenant's usage as reported: a malformed report is left out rather than stored. */
function isAnsweredCall(value: JsonValue | undefined): value is AnsweredCall & JsonValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const usage = value.usage as Record<string, unknown> | null;
  return (
    typeof value.model === 'string' &&
    typeof usage === 'object' &&
    usage !== null &&
    isCount(usage.inputTokens) &&
    isCount(usage.outputTokens)
  );
}

/**
 * Agents are not trusted to keep their contract: what one returns is checked, and turned into
 * plain JSON (what would be stored), before anything is written. A string says what was wrong.
 */
export function checkOutcome(raw: StepOutcome<unknown>): CheckedOutcome | string {
  if (typeof raw !== 'object' || raw === null || !OUTCOME_TYPES.has((raw as { type?: unknown }).type)) {
    return 'returned no valid outcome';
  }
  let outcome: Record<string, JsonValue>;
  try {
    outcome = JSON.parse(JSON.stringify(raw)) as Record<string, JsonValue>;
  } catch {
    return 'returned a value that cannot be stored as JSON';
  }
  const problem = unstorable(outcome);
  if (problem)
    return `returned a value that cannot be stored (${problem.path.join('.')}: ${problem.message})`;
  if (!isStepEventList(outcome.events)) return 'returned events that are not step events';
  switch (raw.type) {
    case 'fail':
      return checkFailure(outcome);
    case 'input_required':
      return checkInputRequest(outcome);
    case 'retry':
      return checkRetry(outcome);
    case 'continue':
      return {
        type: 'continue',
        state: outcome.state ?? null,
        ...nextStepBound(outcome),
        ...usageOf(outcome),
      };
    case 'done':
      return { type: 'done', result: outcome.result ?? null, ...usageOf(outcome) };
  }
}

/** A bound on the next step that is not a positive number of milliseconds is ignored: it runs on its own. */
function nextStepBound(outcome: Record<string, JsonValue>): { nextStepWithinMs?: number } {
  const ms = outcome.nextStepWithinMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? { nextStepWithinMs: ms } : {};
}

function checkRetry(outcome: Record<string, JsonValue>): CheckedOutcome | string {
  const { waitSeconds, message } = outcome;
  if (typeof waitSeconds !== 'number' || !Number.isInteger(waitSeconds) || waitSeconds < 0) {
    return 'asked for a retry without a whole number of seconds to wait';
  }
  return {
    type: 'retry',
    state: outcome.state ?? null,
    waitSeconds: Math.min(waitSeconds, MAX_RETRY_WAIT_SECONDS),
    message: typeof message === 'string' ? message.slice(0, MAX_PROMPT_CHARS) : 'retrying',
    ...usageOf(outcome),
  };
}

function checkFailure(outcome: Record<string, JsonValue>): CheckedOutcome | string {
  const { message, code = 'agent_error' } = outcome;
  if (typeof message !== 'string') return 'failed without a message';
  if (!FAIL_CODES.has(code))
    return `failed with an error code agents may not use: ${String(code).slice(0, 64)}`;
  return {
    type: 'fail',
    message: message.slice(0, MAX_ERROR_MESSAGE_CHARS),
    code: code as AgentFailureCode,
  };
}

function checkInputRequest(outcome: Record<string, JsonValue>): CheckedOutcome | string {
  const { prompt, schema, toolCalls } = outcome;
  const isObject = typeof schema === 'object' && schema !== null && !Array.isArray(schema);
  if (typeof prompt !== 'string' || (schema !== undefined && !isObject) || !isUsableSchema(schema as never)) {
    return 'asked for input with no prompt or an unusable schema';
  }
  if (jsonBytes(schema) > MAX_INPUT_SCHEMA_BYTES) {
    return `asked for input with a schema over ${MAX_INPUT_SCHEMA_BYTES} bytes`;
  }
  const state = outcome.state ?? null;
  if (toolCalls !== undefined) {
    if (!isToolCallList(toolCalls) || schema !== undefined) {
      return 'asked for tool outputs with malformed tool calls, or with a schema';
    }
    if (jsonBytes(toolCalls) > MAX_TOOL_CALLS_BYTES) {
      return `asked for tool outputs with tool calls over ${MAX_TOOL_CALLS_BYTES} bytes`;
    }
    const request: InputRequest = {
      type: 'tool_calls',
      prompt: prompt.slice(0, MAX_PROMPT_CHARS),
      toolCalls,
    };
    return { type: 'input_required', request, state, ...usageOf(outcome) };
  }
  const request: InputRequest = {
    type: 'question',
    prompt: prompt.slice(0, MAX_PROMPT_CHARS),
    ...(schema === undefined ? {} : { schema: schema as NonNullable<InputRequest['schema']> }),
  };
  return { type: 'input_required', request, state, ...usageOf(outcome) };
}

function isToolCallList(value: JsonValue): value is RequestedToolCall[] & JsonValue {
  if (!Array.isArray(value) || value.length === 0) return false;
  const ids = new Set<unknown>();
  return value.every((c) => {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) return false;
    const { id, name, arguments: args } = c;
    const ok = typeof id === 'string' && id !== '' && !ids.has(id) && typeof name === 'string';
    ids.add(id);
    return ok && typeof args === 'object' && args !== null && !Array.isArray(args);
  });
}

/**
 * Why the value an outcome hands over cannot be stored, or undefined when it can. A value over the
 * inline threshold lives outside the job item, which keeps a reference of fixed size: what stays in
 * the item is bounded (small values, a capped prompt, schema and progress data), so only the large
 * value's own limit can be exceeded.
 */
export function oversizedValue(outcome: CheckedOutcome): string | undefined {
  const large = LARGE_VALUE_OF[outcome.type](outcome);
  if (!large) return undefined;
  const bytes = jsonBytes(large.value);
  if (bytes <= MAX_LARGE_VALUE_BYTES) return undefined;
  return `${large.what} too large to store: ${bytes} bytes, over the ${MAX_LARGE_VALUE_BYTES}-byte limit`;
}

type LargeValue = { value: JsonValue; what: string } | undefined;
const stateOf = (o: CheckedOutcome): LargeValue => ({
  value: (o as { state: JsonValue }).state,
  what: 'the step state is',
});
const LARGE_VALUE_OF: Record<CheckedOutcome['type'], (o: CheckedOutcome) => LargeValue> = {
  continue: stateOf,
  retry: stateOf,
  input_required: stateOf,
  done: (o) => ({ value: (o as { result: JsonValue }).result, what: 'the result is' }),
  fail: () => undefined,
};
