import { randomUUID } from 'node:crypto';
import type { EventSourceMessage } from 'eventsource-parser';
import { createParser } from 'eventsource-parser';
import type { ChatMessage, FinishReason, ModelAnswer, TokenUsage, ToolCall } from '../../domain/model.js';
import { parseToolArguments } from '../../domain/model.js';
import {
  isTransientHttpStatus,
  ModelRefusedError,
  ModelUnavailableError,
  providerRetryAfterSeconds,
} from '../../domain/model-errors.js';
import { CallDeadline } from './call-deadline.js';
import type {
  CallLimits,
  ModelProvider,
  ModelRequest,
  ModelStreamEvent,
  Readiness,
} from './model-provider.js';

/**
 * Any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama, LM Studio...), spoken with
 * `fetch` and an SSE parser: one POST and one GET is all the runtime needs, so the wire format is
 * ours to own (and to test against a server speaking it) rather than a 150 KB SDK's, with no SDK
 * retry loop to switch off.
 */
export interface OpenAiCompatibleOptions extends CallLimits {
  /** Up to and including the version segment, e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  apiKey?: string;
  defaultModel: string;
  /**
   * The request field that bounds output: `max_tokens` is understood by every compatible server;
   * OpenAI's reasoning models accept only `max_completion_tokens`.
   */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
  /** Bound on the readiness request. */
  readinessTimeoutMs?: number;
}

const DEFAULT_READINESS_TIMEOUT_MS = 5_000;
/** A refusal's body is read this far for its message. */
const MAX_ERROR_BODY_CHARS = 4_096;
const MAX_ERROR_MESSAGE_CHARS = 300;

const FINISH_REASONS: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

interface ChunkToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface Chunk {
  choices?: {
    delta?: { content?: string | null; tool_calls?: ChunkToolCall[] };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: unknown;
}

export class OpenAiCompatibleProvider implements ModelProvider {
  readonly kind = 'openai-compatible';
  readonly defaultModel: string;
  private readonly baseUrl: string;

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.defaultModel = options.defaultModel;
  }

  async *stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent, ModelAnswer, undefined> {
    const deadline = new CallDeadline(request.signal, this.options);
    try {
      const response = await deadline.race(this.post(request, deadline.signal)).catch((error: unknown) => {
        throw deadline.abortError() ?? unreachable(error);
      });
      if (!response.ok) throw await refusal(response, deadline);
      if (response.body === null) throw streamInterrupted();
      return yield* readAnswer(response.body, deadline);
    } finally {
      deadline.dispose();
    }
  }

  async checkReady(signal?: AbortSignal): Promise<Readiness> {
    const timeout = AbortSignal.timeout(this.options.readinessTimeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/models`, {
        headers: this.headers(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      return { ok: false, reason: unreachable(error).message };
    }
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: false, reason: `GET /models answered ${response.status}` };
    }
    const listing = (await response.json().catch(() => undefined)) as
      { data?: { id?: unknown }[] } | undefined;
    const offered = Array.isArray(listing?.data) && listing.data.some((m) => m?.id === this.defaultModel);
    return offered ? { ok: true } : { ok: false, reason: `the model ${this.defaultModel} is not offered` };
  }

  private post(request: ModelRequest, signal: AbortSignal): Promise<Response> {
    const body: Record<string, unknown> = {
      model: request.model ?? this.defaultModel,
      messages: request.messages.map(toWireMessage),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (request.tools?.length) {
      body.tools = request.tools.map((tool) => ({
        type: 'function',
        function: { name: tool.name, description: tool.description, parameters: tool.parameters },
      }));
    }
    if (request.maxOutputTokens !== undefined) {
      body[this.options.maxTokensField ?? 'max_tokens'] = request.maxOutputTokens;
    }
    if (request.temperature !== undefined) body.temperature = request.temperature;
    return fetch(`${this.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { ...this.headers(), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal,
    });
  }

  private headers(): Record<string, string> {
    return this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
  }
}

function toWireMessage(message: ChatMessage): Record<string, unknown> {
  switch (message.role) {
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
    case 'assistant':
      if (!message.toolCalls?.length) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        content: message.content === '' ? null : message.content,
        tool_calls: message.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.invalidArguments ?? JSON.stringify(call.arguments) },
        })),
      };
    default:
      return { role: message.role, content: message.content };
  }
}

/** Network codes worth naming; the rest are reported by code alone (messages can quote hosts). */
function unreachable(error: unknown): ModelUnavailableError {
  const cause = (error as { cause?: { code?: unknown } })?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const what =
    code === 'ECONNREFUSED' ? 'connection refused' : code ? `network error ${code}` : 'network error';
  return new ModelUnavailableError('unreachable', `the model provider is unreachable (${what})`, {
    cause: error,
  });
}

/** A non-2xx answer as a domain error: transient ones keep the provider's requested wait. */
async function refusal(response: Response, deadline: CallDeadline): Promise<Error> {
  const text = await deadline.race(response.text()).catch(() => '');
  const detail = errorMessage(text.slice(0, MAX_ERROR_BODY_CHARS));
  const message = `the model provider answered ${response.status}${detail ? `: ${detail}` : ''}`;
  const httpStatus = response.status;
  if (!isTransientHttpStatus(httpStatus)) return new ModelRefusedError(message, { httpStatus });
  const retryAfterSeconds = providerRetryAfterSeconds((name) => response.headers.get(name), new Date());
  const reason = httpStatus === 429 ? 'throttled' : httpStatus === 408 ? 'timeout' : 'server_error';
  return new ModelUnavailableError(reason, message, {
    httpStatus,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/** The message of an error body in the shapes compatible servers use: OpenAI, vLLM, Ollama. */
function errorMessage(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text.trim().slice(0, MAX_ERROR_MESSAGE_CHARS);
  }
  const body = parsed as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
  const candidates = [
    typeof body.error === 'object' ? body.error?.message : body.error,
    body.message,
    body.detail,
  ];
  const found = candidates.find((c): c is string => typeof c === 'string');
  return (found ?? '').slice(0, MAX_ERROR_MESSAGE_CHARS);
}

/** What the chunks of one answer add up to. */
class AnswerBuilder {
  text = '';
  finishReason: string | undefined;
  usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  done = false;
  private readonly calls = new Map<number, { id?: string; name: string; args: string }>();

  /** Applies one chunk and returns the text it carried. */
  apply(chunk: Chunk): string {
    if (chunk.error !== undefined) {
      throw new ModelUnavailableError(
        'server_error',
        `the model stream reported an error: ${errorMessage(JSON.stringify(chunk))}`,
      );
    }
    if (chunk.usage) {
      this.usage = {
        inputTokens: chunk.usage.prompt_tokens ?? 0,
        outputTokens: chunk.usage.completion_tokens ?? 0,
      };
    }
    let delta = '';
    for (const choice of chunk.choices ?? []) {
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
      const content = choice.delta?.content;
      if (content) delta += content;
      choice.delta?.tool_calls?.forEach((call, position) => this.addToolCallDelta(call, position));
    }
    this.text += delta;
    return delta;
  }

  /** Tool calls arrive as deltas keyed by index: the id and name first, the arguments in pieces. */
  private addToolCallDelta(delta: ChunkToolCall, position: number): void {
    const index = delta.index ?? position;
    const call = this.calls.get(index) ?? { name: '', args: '' };
    if (delta.id) call.id = delta.id;
    if (delta.function?.name) call.name += delta.function.name;
    if (delta.function?.arguments) call.args += delta.function.arguments;
    this.calls.set(index, call);
  }

  toolCalls(): ToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, call]) => ({
        // A server that sends no id still needs one the results can refer to.
        id: call.id ?? `call_${randomUUID()}`,
        name: call.name,
        ...parseToolArguments(call.args),
      }));
  }
}

async function* readAnswer(
  body: ReadableStream<Uint8Array>,
  deadline: CallDeadline,
): AsyncGenerator<ModelStreamEvent, ModelAnswer, undefined> {
  const answer = new AnswerBuilder();
  const texts: string[] = [];
  const parser = createParser({
    onEvent: (event: EventSourceMessage) => {
      if (answer.done) return;
      if (event.data.trim() === '[DONE]') {
        answer.done = true;
        return;
      }
      const text = answer.apply(parseChunk(event.data));
      if (text) texts.push(text);
    },
  });
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!answer.done) {
      const next = await deadline.race(reader.read()).catch((error: unknown) => {
        throw deadline.abortError() ?? streamInterrupted(error);
      });
      if (next.done) break;
      deadline.touch();
      parser.feed(next.value);
      for (const text of texts.splice(0)) yield { type: 'text', text };
    }
  } finally {
    // Ends the connection when the caller stopped early or the stream failed half-way.
    await reader.cancel().catch(() => undefined);
  }
  // A stream that ends without its end marker or a finish reason was cut off mid-answer.
  if (!answer.done && answer.finishReason === undefined) throw streamInterrupted();
  const toolCalls = answer.toolCalls();
  for (const call of toolCalls) yield { type: 'tool_call', call };
  return {
    text: answer.text,
    toolCalls,
    finishReason: FINISH_REASONS[answer.finishReason ?? ''] ?? 'other',
    usage: answer.usage,
  };
}

function parseChunk(data: string): Chunk {
  try {
    return JSON.parse(data) as Chunk;
  } catch (cause) {
    throw new ModelUnavailableError('stream_interrupted', 'the model stream sent a chunk that is not JSON', {
      cause,
    });
  }
}

const streamInterrupted = (cause?: unknown) =>
  new ModelUnavailableError('stream_interrupted', 'the model stream ended before the answer was complete', {
    cause,
  });
