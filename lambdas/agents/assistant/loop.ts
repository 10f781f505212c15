import { ValidationError } from '../../domain/errors.js';
import { toolOutputsFor } from '../../domain/input-answer.js';
import type { JobUsage, JsonValue } from '../../domain/job.js';
import type {
  ChatMessage,
  FinishReason,
  JsonObject,
  ModelAnswer,
  ModelCallRequest,
  TokenUsage,
  ToolCall,
  ToolDefinition,
} from '../../domain/model.js';
import { costUsd } from '../../domain/model-prices.js';
import type { AssistantInput } from './input.js';

/**
 * The `assistant` loop's decisions, free of I/O: what to do after a model answer, after a server
 * tool ran, after a client answered. The step runner performs what a decision says (one model call
 * per step; server tools inside the step; a pause for client tools) and checkpoints the state each
 * decision returns, so a retried step resumes from the last checkpoint and never redoes a finished
 * model call or tool call.
 */

export interface ToolResult {
  output: JsonValue;
  isError: boolean;
}

/** Who answers a tool call: a server tool in the step, the client through input, or nobody. */
export type ToolCallKind = 'server' | 'client' | 'invalid';

export interface PendingToolCall extends ToolCall {
  kind: ToolCallKind;
}

/** The tool calls of the last answer, and the results gathered so far, keyed by tool call id. */
export interface PendingTurn {
  step: number;
  calls: PendingToolCall[];
  results: Record<string, ToolResult>;
}

/** The checkpointed state of an `assistant` job. */
export interface AssistantState {
  /** The conversation, system prompt first; it grows by each answer and its tool results. */
  messages: ChatMessage[];
  /** Answered model calls; the next call is number `modelCalls + 1`. */
  modelCalls: number;
  /** What the provider reported per answered call, keyed by call number: recording a call again replaces it. */
  usage: Record<string, TokenUsage>;
  pending: PendingTurn | null;
}

export interface AssistantResult {
  /** The final model text. */
  output: string;
  /** The model's finish reason, or `max_steps` when the loop stopped with tool calls unanswered. */
  finishReason: FinishReason | 'max_steps';
  /** Model calls made. */
  steps: number;
}

export interface ToolCallsInputRequest {
  type: 'tool_calls';
  prompt: string;
  toolCalls: { id: string; name: string; arguments: JsonObject }[];
}

/** What the runner knows that the state does not: the clock, the job's deadline, a cancel. */
export interface LoopContext {
  now: number;
  /** The job's deadline, epoch milliseconds. */
  deadline?: number;
  cancelled?: boolean;
}

export type Decision =
  | { type: 'call_model'; state: AssistantState; step: number }
  | { type: 'run_server_tools'; state: AssistantState; calls: ToolCall[] }
  | { type: 'await_client'; state: AssistantState; inputRequest: ToolCallsInputRequest }
  | { type: 'finish'; state: AssistantState; result: AssistantResult }
  | { type: 'stop'; state: AssistantState; reason: 'deadline' | 'cancelled' };

export function initialState(input: AssistantInput): AssistantState {
  const system: ChatMessage[] = input.instructions ? [{ role: 'system', content: input.instructions }] : [];
  const conversation: ChatMessage[] =
    input.prompt !== undefined ? [{ role: 'user', content: input.prompt }] : (input.messages ?? []);
  return { messages: [...system, ...conversation], modelCalls: 0, usage: {}, pending: null };
}

/** The next model call: the conversation so far, the enabled server tools and the client's tools. */
export function modelCallRequest(
  state: AssistantState,
  input: AssistantInput,
  serverTools: ToolDefinition[],
): ModelCallRequest {
  const clientTools: ToolDefinition[] = (input.tools ?? []).map((tool) => ({
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    parameters: tool.parameters as JsonObject,
  }));
  const tools = [...serverTools, ...clientTools];
  return {
    ...(input.model === undefined ? {} : { model: input.model }),
    messages: state.messages,
    ...(tools.length === 0 ? {} : { tools }),
    ...(input.maxOutputTokens === undefined ? {} : { maxOutputTokens: input.maxOutputTokens }),
    ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
  };
}

function classify(call: ToolCall, input: AssistantInput): { kind: ToolCallKind; error?: string } {
  if (call.invalidArguments !== undefined) {
    return { kind: 'invalid', error: `the arguments of ${call.name} are not a JSON object` };
  }
  if (input.serverTools?.includes(call.name)) return { kind: 'server' };
  if (input.tools?.some((tool) => tool.name === call.name)) return { kind: 'client' };
  const available = [...(input.serverTools ?? []), ...(input.tools ?? []).map((t) => t.name)];
  const offer = available.length ? `available tools: ${available.join(', ')}` : 'no tools are available';
  return { kind: 'invalid', error: `unknown tool "${call.name}"; ${offer}` };
}

/**
 * Records model call number `step`'s answer and decides what follows. The loop goes on while the
 * model returns tool calls, whatever its finish reason says (models answer tool calls with `stop`
 * too); it finishes with the answer's text when there are none, or when `maxSteps` calls are spent.
 * A tool the model made up, or arguments that are not an object, are answered with a tool error
 * for the model to read, never thrown. Recording a step already recorded changes nothing.
 */
export function decideNext(
  state: AssistantState,
  answered: { step: number; answer: ModelAnswer },
  input: AssistantInput,
  ctx: LoopContext,
): Decision {
  const { step, answer } = answered;
  if (state.usage[String(step)] !== undefined) return nextAction(state, input, ctx);
  const recorded: AssistantState = {
    ...state,
    messages: [
      ...state.messages,
      {
        role: 'assistant',
        content: answer.text,
        ...(answer.toolCalls.length ? { toolCalls: answer.toolCalls } : {}),
      },
    ],
    modelCalls: step,
    usage: { ...state.usage, [String(step)]: answer.usage },
    pending: null,
  };
  if (answer.toolCalls.length === 0) {
    return {
      type: 'finish',
      state: recorded,
      result: { output: answer.text, finishReason: answer.finishReason, steps: step },
    };
  }
  if (step >= input.maxSteps) {
    return {
      type: 'finish',
      state: recorded,
      result: { output: answer.text, finishReason: 'max_steps', steps: step },
    };
  }
  const calls: PendingToolCall[] = [];
  const results: Record<string, ToolResult> = {};
  for (const call of answer.toolCalls) {
    const { kind, error } = classify(call, input);
    calls.push({ ...call, kind });
    if (error !== undefined) results[call.id] = { output: { error }, isError: true };
  }
  return nextAction({ ...recorded, pending: { step, calls, results } }, input, ctx);
}

/**
 * What the state calls for next: the server tools still to run, then the client's answers, then,
 * once every call of the turn has a result, the results go into the conversation in call order and
 * the model is called again. A cancel or a passed deadline stops the loop first.
 */
export function nextAction(state: AssistantState, input: AssistantInput, ctx: LoopContext): Decision {
  if (ctx.cancelled) return { type: 'stop', state, reason: 'cancelled' };
  if (ctx.deadline !== undefined && ctx.now >= ctx.deadline)
    return { type: 'stop', state, reason: 'deadline' };
  const turn = state.pending;
  if (turn === null) return { type: 'call_model', state, step: state.modelCalls + 1 };
  const waiting = (kind: ToolCallKind) =>
    turn.calls.filter((c) => c.kind === kind && !(c.id in turn.results));
  const server = waiting('server');
  if (server.length > 0) return { type: 'run_server_tools', state, calls: server.map(stripKind) };
  const client = waiting('client');
  if (client.length > 0) return { type: 'await_client', state, inputRequest: toolCallsRequest(client) };
  const toolMessages: ChatMessage[] = turn.calls.map((call) => toolMessage(call.id, turn.results[call.id]!));
  const next: AssistantState = { ...state, messages: [...state.messages, ...toolMessages], pending: null };
  return { type: 'call_model', state: next, step: next.modelCalls + 1 };
}

const stripKind = ({ kind: _, ...call }: PendingToolCall): ToolCall => call;

function toolMessage(toolCallId: string, result: ToolResult): ChatMessage {
  const content = typeof result.output === 'string' ? result.output : JSON.stringify(result.output);
  return { role: 'tool', toolCallId, content, ...(result.isError ? { isError: true } : {}) };
}

function toolCallsRequest(calls: PendingToolCall[]): ToolCallsInputRequest {
  const names = [...new Set(calls.map((c) => c.name))].join(', ');
  return {
    type: 'tool_calls',
    prompt: `The assistant called ${calls.length === 1 ? 'a client tool' : `${calls.length} client tools`} (${names}). Answer with toolOutputs, one per tool call id.`,
    toolCalls: calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
  };
}

/** Keeps the first result of a server tool call: a step re-run after it finished records nothing new. */
export function recordServerResult(
  state: AssistantState,
  toolCallId: string,
  result: ToolResult,
): AssistantState {
  const turn = state.pending;
  const call = turn?.calls.find((c) => c.id === toolCallId);
  if (!turn || call?.kind !== 'server' || toolCallId in turn.results) return state;
  return { ...state, pending: { ...turn, results: { ...turn.results, [toolCallId]: result } } };
}

/**
 * Applies a client's answer, `{"toolOutputs": [{"toolCallId", "output"}]}`, to the client tool
 * calls the job waits on. It must answer every one of them and nothing else; otherwise it is
 * refused (400 `invalid_input`) and the state is unchanged, so the job keeps waiting.
 */
export function applyToolOutputs(state: AssistantState, answer: unknown): AssistantState {
  const turn = state.pending;
  const awaited = (turn?.calls ?? []).filter((c) => c.kind === 'client' && !(c.id in turn!.results));
  const outputs = toolOutputsFor(awaited, answer);
  if (!turn || awaited.length === 0) {
    throw new ValidationError('no tool calls are waiting for outputs', [], 'invalid_input');
  }
  const results: Record<string, ToolResult> = {};
  for (const [id, output] of outputs) results[id] = { output, isError: false };
  return { ...state, pending: { ...turn, results: { ...turn.results, ...results } } };
}

/** The job's usage: the sum over answered model calls, each counted once; priced for `model`. */
export function usageTotals(state: AssistantState, model: string): JobUsage {
  const calls = Object.values(state.usage);
  const inputTokens = calls.reduce((sum, u) => sum + u.inputTokens, 0);
  const outputTokens = calls.reduce((sum, u) => sum + u.outputTokens, 0);
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    modelCalls: calls.length,
    costUsd: costUsd(model, { inputTokens, outputTokens }),
  };
}
