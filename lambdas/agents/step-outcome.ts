import { isUsableSchema } from '../domain/input-answer.js';
import type { InputRequest, JobUsage, JsonValue, RequestedToolCall } from '../domain/job.js';
import type { StepSnapshot } from '../domain/job-store.js';
import {
  jsonBytes,
  MAX_ANSWER_BYTES,
  MAX_ITEM_BYTES,
  storedBytes,
  unstorable,
} from '../domain/stored-json.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../config/workflow.js';
import type { AgentFailureCode, StepOutcome } from './agent.js';

/** Prompts are shown to people and stored on the job: longer ones are cut. */
export const MAX_PROMPT_CHARS = 4_000;
/** The JSON Schema of an input request is stored on the job and listed: it must stay small. */
export const MAX_INPUT_SCHEMA_BYTES = 16 * 1024;
/** Room in the job item for what the step's outcome does not measure: keys, TTL, fingerprint, task token. */
export const ITEM_RESERVE_BYTES = 8 * 1024;

const OUTCOME_TYPES: ReadonlySet<unknown> = new Set(['continue', 'done', 'fail', 'input_required', 'retry']);
const FAIL_CODES: ReadonlySet<unknown> = new Set(['agent_error', 'model_unavailable', 'model_error']);
/** Step Functions' Wait takes at most a year; a retry is never worth waiting that long. */
export const MAX_RETRY_WAIT_SECONDS = 3_600;

interface Usage {
  usage?: JobUsage;
}

/** An outcome that kept the agent contract, as plain JSON. */
export type CheckedOutcome =
  | ({ type: 'continue'; state: JsonValue } & Usage)
  | ({ type: 'done'; result: JsonValue } & Usage)
  | ({ type: 'retry'; state: JsonValue; waitSeconds: number; message: string } & Usage)
  | { type: 'fail'; message: string; code: AgentFailureCode }
  | ({ type: 'input_required'; request: InputRequest; state: JsonValue } & Usage);

const usageOf = (outcome: Record<string, JsonValue>): Usage =>
  outcome.usage === undefined || outcome.usage === null
    ? {}
    : { usage: outcome.usage as unknown as JobUsage };

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
  switch (raw.type) {
    case 'fail':
      return checkFailure(outcome);
    case 'input_required':
      return checkInputRequest(outcome);
    case 'retry':
      return checkRetry(outcome);
    case 'continue':
      return { type: 'continue', state: outcome.state ?? null, ...usageOf(outcome) };
    case 'done':
      return { type: 'done', result: outcome.result ?? null, ...usageOf(outcome) };
  }
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
 * Why the write an outcome calls for would not fit in the job item, or undefined when it fits.
 * The item keeps the input, metadata and any answer alongside what the step adds; a step that asks
 * for input leaves room for the largest answer a client may send.
 */
export function oversizedWrite(
  snap: StepSnapshot,
  outcome: CheckedOutcome,
  progressData: JsonValue | null,
): string | undefined {
  const base = { ...snap.job, progressData };
  const { item, what, room } = itemAfter(base, snap.answer ?? null, outcome);
  if (!item) return undefined;
  const bytes = storedBytes(item) + ITEM_RESERVE_BYTES + room;
  if (bytes <= MAX_ITEM_BYTES) return undefined;
  return `${what} too large to store: the job would take ${bytes} bytes, over the ${MAX_ITEM_BYTES}-byte item limit`;
}

function itemAfter(base: object, answer: JsonValue, outcome: CheckedOutcome) {
  switch (outcome.type) {
    case 'continue':
    case 'retry':
      return { item: { ...base, answer, agentState: outcome.state }, what: 'the step state is', room: 0 };
    case 'input_required':
      return {
        item: { ...base, inputRequest: outcome.request, agentState: outcome.state },
        what: 'the step state and input request are',
        room: MAX_ANSWER_BYTES,
      };
    case 'done':
      return { item: { ...base, answer, result: outcome.result }, what: 'the result is', room: 0 };
    case 'fail':
      return { item: undefined, what: '', room: 0 };
  }
}
