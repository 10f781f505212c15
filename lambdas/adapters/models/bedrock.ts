import type {
  ContentBlock,
  ConverseStreamCommandInput,
  ConverseStreamOutput,
  Message,
  SystemContentBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import type { ChatMessage, FinishReason, ModelAnswer, TokenUsage, ToolCall } from '../../domain/model.js';
import { foundationModelId, parseToolArguments } from '../../domain/model.js';
import type { TransientModelReason } from '../../domain/model-errors.js';
import {
  isTransientHttpStatus,
  ModelRefusedError,
  ModelUnavailableError,
  providerRetryAfterSeconds,
} from '../../domain/model-errors.js';
import { withoutSdkLogging } from '../sdk-clients.js';
import { CallDeadline } from './call-deadline.js';
import type {
  CallLimits,
  ModelProvider,
  ModelRequest,
  ModelStreamEvent,
  Readiness,
} from './model-provider.js';

/** One attempt per call: the workflow owns retries, with backoff that honours the provider's wait. */
const runtime = withoutSdkLogging(new BedrockRuntimeClient({ maxAttempts: 1 }));

/** Whether a foundation model may be invoked; see bedrock-availability.ts. */
export type ModelAvailability = (foundationModelId: string, signal?: AbortSignal) => Promise<Readiness>;

export interface BedrockOptions extends CallLimits {
  /** A foundation model id or an inference profile id (`us.…`, `eu.…`, `global.…`). */
  defaultModel: string;
  /**
   * The readiness check. Injected rather than imported because the control-plane client it needs
   * adds about 160 KB to a bundle: only the function that answers readiness should carry it.
   */
  availability?: ModelAvailability;
}

const STOP_REASONS: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  content_filtered: 'content_filter',
  guardrail_intervened: 'content_filter',
};

/** Bedrock's errors worth a retry, by name; the rest of its modelled errors are refusals. */
const TRANSIENT_ERRORS: Record<string, TransientModelReason> = {
  ThrottlingException: 'throttled',
  ServiceQuotaExceededException: 'throttled',
  ServiceUnavailableException: 'server_error',
  InternalServerException: 'server_error',
  ModelStreamErrorException: 'stream_interrupted',
  ModelNotReadyException: 'not_ready',
  ModelTimeoutException: 'timeout',
  TimeoutError: 'timeout',
};

/** Amazon Bedrock through the Converse API, streamed (ConverseStream). */
export class BedrockProvider implements ModelProvider {
  readonly kind = 'bedrock';
  readonly defaultModel: string;

  constructor(private readonly options: BedrockOptions) {
    this.defaultModel = options.defaultModel;
  }

  async *stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent, ModelAnswer, undefined> {
    const deadline = new CallDeadline(request.signal, this.options);
    try {
      const command = new ConverseStreamCommand(this.input(request));
      const output = await deadline
        .race(runtime.send(command, { abortSignal: deadline.signal }))
        .catch((error: unknown) => {
          throw deadline.abortError() ?? classifyBedrockError(error);
        });
      if (!output.stream) throw new ModelUnavailableError('stream_interrupted', 'Bedrock answered no stream');
      return yield* readAnswer(output.stream, deadline);
    } finally {
      deadline.dispose();
    }
  }

  /** Whether this account may invoke the default model here; an inference profile by its foundation model. */
  async checkReady(signal?: AbortSignal): Promise<Readiness> {
    if (!this.options.availability) return { ok: false, reason: 'no availability check is configured' };
    return this.options.availability(foundationModelId(this.defaultModel), signal);
  }

  private input(request: ModelRequest): ConverseStreamCommandInput {
    const system: SystemContentBlock[] = request.messages.flatMap((m) =>
      m.role === 'system' && m.content !== '' ? [{ text: m.content }] : [],
    );
    const input: ConverseStreamCommandInput = {
      modelId: request.model ?? this.defaultModel,
      messages: toBedrockMessages(request.messages),
    };
    if (system.length > 0) input.system = system;
    if (request.maxOutputTokens !== undefined || request.temperature !== undefined) {
      input.inferenceConfig = { maxTokens: request.maxOutputTokens, temperature: request.temperature };
    }
    if (request.tools?.length) {
      input.toolConfig = {
        tools: request.tools.map((tool) => ({
          toolSpec: {
            name: tool.name,
            description: tool.description,
            inputSchema: { json: tool.parameters },
          },
        })),
      };
    }
    return input;
  }
}

function contentOf(message: ChatMessage): { role: 'user' | 'assistant'; blocks: ContentBlock[] } | undefined {
  switch (message.role) {
    case 'system':
      return undefined;
    case 'tool':
      // Results go back as text: every model on Converse reads text, not all accept JSON blocks.
      return {
        role: 'user',
        blocks: [{ toolResult: { toolUseId: message.toolCallId, content: [{ text: message.content }] } }],
      };
    case 'assistant': {
      const blocks: ContentBlock[] = message.content === '' ? [] : [{ text: message.content }];
      for (const call of message.toolCalls ?? []) {
        blocks.push({ toolUse: { toolUseId: call.id, name: call.name, input: call.arguments } });
      }
      return { role: 'assistant', blocks };
    }
    default:
      return message.content === '' ? undefined : { role: 'user', blocks: [{ text: message.content }] };
  }
}

/**
 * Converse wants user and assistant turns to alternate, with all the results of one turn's tool
 * calls in the next user message: consecutive messages of one role are merged into one.
 */
export function toBedrockMessages(messages: ChatMessage[]): Message[] {
  const merged: Message[] = [];
  for (const message of messages) {
    const content = contentOf(message);
    if (!content || content.blocks.length === 0) continue;
    const last = merged.at(-1);
    if (last?.role === content.role) last.content!.push(...content.blocks);
    else merged.push({ role: content.role, content: content.blocks });
  }
  return merged;
}

async function* readAnswer(
  stream: AsyncIterable<ConverseStreamOutput>,
  deadline: CallDeadline,
): AsyncGenerator<ModelStreamEvent, ModelAnswer, undefined> {
  let text = '';
  let stopReason: string | undefined;
  let usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  const calls = new Map<number, { id: string; name: string; input: string }>();
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await deadline.race(iterator.next()).catch((error: unknown) => {
        throw deadline.abortError() ?? classifyBedrockError(error);
      });
      if (next.done) break;
      deadline.touch();
      const event = next.value;
      throwIfException(event);
      const index =
        event.contentBlockStart?.contentBlockIndex ?? event.contentBlockDelta?.contentBlockIndex ?? 0;
      const toolStart = event.contentBlockStart?.start?.toolUse;
      if (toolStart)
        calls.set(index, { id: toolStart.toolUseId ?? '', name: toolStart.name ?? '', input: '' });
      const delta = event.contentBlockDelta?.delta;
      if (delta?.text) {
        text += delta.text;
        yield { type: 'text', text: delta.text };
      }
      const call = calls.get(index);
      if (delta?.toolUse?.input && call) call.input += delta.toolUse.input;
      if (event.messageStop) stopReason = event.messageStop.stopReason;
      const reported = event.metadata?.usage;
      if (reported)
        usage = { inputTokens: reported.inputTokens ?? 0, outputTokens: reported.outputTokens ?? 0 };
    }
  } finally {
    // Not awaited: a stalled stream's generator cannot finish until its pending read does.
    void iterator.return?.()?.catch(() => undefined);
  }
  if (stopReason === undefined) {
    throw new ModelUnavailableError(
      'stream_interrupted',
      'the model stream ended before the answer was complete',
    );
  }
  const toolCalls: ToolCall[] = [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, c]) => ({ id: c.id, name: c.name, ...parseToolArguments(c.input) }));
  for (const call of toolCalls) yield { type: 'tool_call', call };
  return { text, toolCalls, finishReason: STOP_REASONS[stopReason] ?? 'other', usage };
}

/** An exception carried as a stream event is an error like one thrown by the stream. */
function throwIfException(event: ConverseStreamOutput): void {
  const name = Object.keys(event).find((key) => key.endsWith('Exception'));
  if (name === undefined) return;
  const detail = (event as unknown as Record<string, { message?: string } | undefined>)[name];
  const error = new Error(detail?.message ?? name);
  error.name = name.charAt(0).toUpperCase() + name.slice(1);
  throw classifyBedrockError(error);
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  originalStatusCode?: number;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** A Bedrock SDK error as a domain error: throttling, outages and network trouble are transient. */
export function classifyBedrockError(error: unknown): ModelUnavailableError | ModelRefusedError {
  if (error instanceof ModelUnavailableError || error instanceof ModelRefusedError) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? 'Error';
  const httpStatus = e.$metadata?.httpStatusCode;
  const message = `Bedrock ${name}: ${e.message ?? 'no message'}`;
  const headers = e.$response?.headers ?? {};
  const retryAfterSeconds = providerRetryAfterSeconds((h) => headers[h], new Date());
  const transient = (reason: TransientModelReason) =>
    new ModelUnavailableError(reason, message, {
      cause: error,
      ...(httpStatus === undefined ? {} : { httpStatus }),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  const known = TRANSIENT_ERRORS[name];
  if (known) return transient(known);
  if (name === 'ModelErrorException' && isTransientHttpStatus(e.originalStatusCode ?? 0)) {
    return transient('server_error');
  }
  if (e.$fault === 'server' || (httpStatus !== undefined && isTransientHttpStatus(httpStatus))) {
    return transient('server_error');
  }
  // No response at all: the request never got an answer.
  if (NETWORK_CODES.has(e.code ?? '') || (e.$fault === undefined && httpStatus === undefined)) {
    return transient('unreachable');
  }
  return new ModelRefusedError(message, {
    cause: error,
    ...(httpStatus === undefined ? {} : { httpStatus }),
  });
}
