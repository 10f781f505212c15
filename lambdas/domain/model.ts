import type { JsonValue } from './job.js';

/**
 * The conversation and answer shapes every model provider is mapped to and from. They are the
 * project's own, so the agent loop and the checkpointed state do not change with a provider's SDK.
 */

export type JsonObject = { [key: string]: JsonValue };

export interface ToolCall {
  /** The provider's id for the call; tool results and client answers refer to it. */
  id: string;
  name: string;
  /** The parsed arguments; `{}` when the model's text was not a JSON object (see invalidArguments). */
  arguments: JsonObject;
  /** The model's raw argument text when it was not a JSON object: answered with a tool error. */
  invalidArguments?: string;
}

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  /** A tool's result for one call; `content` is the text the model reads (JSON for structured output). */
  | { role: 'tool'; toolCallId: string; content: string; isError?: boolean };

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments, an object schema. */
  parameters: JsonObject;
}

/**
 * Why the model stopped, in one vocabulary for every provider. `tool_calls` is only a hint: some
 * models return tool calls with `stop`, so callers look at the tool calls themselves.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other';

/** What one model call is asked: the conversation so far and the tools the model may call. */
export interface ModelCallRequest {
  /** The provider's model id; the provider's default model when omitted. */
  model?: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  maxOutputTokens?: number;
  temperature?: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export const NO_USAGE: TokenUsage = Object.freeze({ inputTokens: 0, outputTokens: 0 });

export interface ModelAnswer {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** What the provider reported for this call; zeros when it reported nothing. */
  usage: TokenUsage;
}

/** The foundation model behind a Bedrock inference profile id such as `us.anthropic.claude-…`. */
export const foundationModelId = (modelId: string) =>
  modelId.replace(/^(us|us-gov|eu|apac|jp|au|ca|global)\./, '');

/** Parses a tool call's argument text; anything but a JSON object is kept raw for a tool error. */
export function parseToolArguments(text: string): Pick<ToolCall, 'arguments' | 'invalidArguments'> {
  // Models commonly send an empty string for a tool without parameters.
  if (text.trim() === '') return { arguments: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return { arguments: value as JsonObject };
    }
  } catch {
    // Falls through to the raw text.
  }
  return { arguments: {}, invalidArguments: text };
}
