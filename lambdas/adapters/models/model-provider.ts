import type { ModelAnswer, ModelCallRequest, ToolCall } from '../../domain/model.js';

/** One streamed model call. */
export interface ModelRequest extends ModelCallRequest {
  /** Aborted when the step ends early (its timeout, the job's deadline, a cancel). */
  signal?: AbortSignal;
}

/** What a call yields while the model answers: text as it arrives, each tool call once complete. */
export type ModelStreamEvent = { type: 'text'; text: string } | { type: 'tool_call'; call: ToolCall };

export type Readiness = { ok: true } | { ok: false; reason: string };

/**
 * A model provider the agent runtime can use. `stream` yields events and returns the whole answer;
 * it throws ModelUnavailableError (worth a retry) or ModelRefusedError (not), or the caller's own
 * abort reason when `signal` aborts. Providers never retry: the workflow does, with backoff.
 */
export interface ModelProvider {
  readonly kind: 'openai-compatible' | 'bedrock';
  readonly defaultModel: string;
  stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent, ModelAnswer, undefined>;
  /**
   * Whether the provider answers and offers the default model. Uncached and it may cost a request:
   * callers cache the answer (readiness: at most 30 s).
   */
  checkReady(signal?: AbortSignal): Promise<Readiness>;
}

/** Runs one call to its end, handing each event to `onEvent`, and returns the answer. */
export async function callModel(
  provider: ModelProvider,
  request: ModelRequest,
  onEvent: (event: ModelStreamEvent) => void = () => undefined,
): Promise<ModelAnswer> {
  const stream = provider.stream(request);
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
    onEvent(next.value);
  }
}

/** Per-call limits every provider applies; the defaults fit inside a 15-minute step. */
export interface CallLimits {
  /** The whole call, from sending the request to the last chunk. */
  callTimeoutMs?: number;
  /** The longest silence while waiting for the first or the next chunk. */
  idleTimeoutMs?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 600_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
