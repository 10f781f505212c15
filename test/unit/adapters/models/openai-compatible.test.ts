import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelStreamEvent } from '../../../../lambdas/adapters/models/model-provider.js';
import { callModel } from '../../../../lambdas/adapters/models/model-provider.js';
import type { OpenAiCompatibleOptions } from '../../../../lambdas/adapters/models/openai-compatible.js';
import { OpenAiCompatibleProvider } from '../../../../lambdas/adapters/models/openai-compatible.js';
import { ModelRefusedError, ModelUnavailableError } from '../../../../lambdas/domain/model-errors.js';
import type { ScriptedModelServerOptions, ScriptedReply } from '../../../fixtures/scripted-model-server.js';
import { ScriptedModelServer } from '../../../fixtures/scripted-model-server.js';

const servers: ScriptedModelServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(
  script: ScriptedReply[],
  options: Partial<OpenAiCompatibleOptions> = {},
  server: ScriptedModelServerOptions = {},
) {
  const model = await new ScriptedModelServer({ script, models: ['test-model'], ...server }).start();
  servers.push(model);
  const provider = new OpenAiCompatibleProvider({
    baseUrl: model.baseUrl,
    defaultModel: 'test-model',
    ...options,
  });
  return { model, provider };
}

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('the call succeeded'),
    (error: unknown) => error,
  );
}

describe('OpenAiCompatibleProvider.stream', () => {
  it('streams text deltas and returns the answer with the usage of the final usage-only chunk', async () => {
    const { model, provider } = await setup([
      { kind: 'answer', text: ['Hel', 'lo', ' there'], usage: { prompt_tokens: 12, completion_tokens: 3 } },
    ]);
    const events: ModelStreamEvent[] = [];
    const answer = await callModel(provider, { ...ask, maxOutputTokens: 50, temperature: 0.3 }, (e) =>
      events.push(e),
    );

    expect(events).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'text', text: ' there' },
    ]);
    expect(answer).toEqual({
      text: 'Hello there',
      toolCalls: [],
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 3 },
    });
    expect(model.chatBodies).toEqual([
      {
        model: 'test-model',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 50,
        temperature: 0.3,
      },
    ]);
  });

  it('assembles tool calls whose arguments arrive split across chunks, whatever the finish reason', async () => {
    const { provider } = await setup([
      {
        kind: 'answer',
        text: ['Let me look.'],
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: { city: 'Paris', units: 'metric' } },
          { id: 'call_b', name: 'fetch_url', arguments: { url: 'https://example.com/a?b=c' } },
        ],
        argumentsChunkChars: 3,
        finishReason: 'stop',
      },
    ]);
    const events: ModelStreamEvent[] = [];
    const answer = await callModel(provider, ask, (e) => events.push(e));

    const calls = [
      { id: 'call_a', name: 'get_weather', arguments: { city: 'Paris', units: 'metric' } },
      { id: 'call_b', name: 'fetch_url', arguments: { url: 'https://example.com/a?b=c' } },
    ];
    expect(answer).toMatchObject({ text: 'Let me look.', toolCalls: calls, finishReason: 'stop' });
    expect(events.filter((e) => e.type === 'tool_call')).toEqual(
      calls.map((call) => ({ type: 'tool_call', call })),
    );
  });

  it('keeps arguments that are not a JSON object raw, for a tool error', async () => {
    const { provider } = await setup([
      { kind: 'answer', toolCalls: [{ id: 'call_x', name: 'lookup', arguments: '{"q": "unterminated' }] },
    ]);
    const answer = await callModel(provider, ask);
    expect(answer.toolCalls).toEqual([
      { id: 'call_x', name: 'lookup', arguments: {}, invalidArguments: '{"q": "unterminated' },
    ]);
    expect(answer.finishReason).toBe('tool_calls');
  });

  it('sends the conversation with tool calls and tool results, tools and the API key', async () => {
    const { model, provider } = await setup(
      [{ kind: 'answer', text: ['ok'] }],
      { apiKey: 'sk-test', maxTokensField: 'max_completion_tokens' },
      { apiKey: 'sk-test' },
    );
    await callModel(provider, {
      model: 'other-model',
      maxOutputTokens: 10,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'c1', name: 'get_weather', arguments: { city: 'Oslo' } }],
        },
        { role: 'tool', toolCallId: 'c1', content: '{"temp":3}' },
      ],
      tools: [
        {
          name: 'get_weather',
          description: 'Weather now',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
    });
    const [request] = model.requests;
    expect(request!.headers.authorization).toBe('Bearer sk-test');
    expect(model.chatBodies[0]).toMatchObject({
      model: 'other-model',
      max_completion_tokens: 10,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: '{"temp":3}' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather now',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
    });
  });

  it('classifies 429 as transient with the Retry-After seconds', async () => {
    const { provider } = await setup([{ kind: 'error', status: 429, headers: { 'retry-after': '7' } }]);
    const error = await failure(callModel(provider, ask));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toMatchObject({
      reason: 'throttled',
      httpStatus: 429,
      retryAfterSeconds: 7,
      code: 'model_unavailable',
    });
    expect((error as Error).message).toBe('the model provider answered 429: scripted error 429');
  });

  it('prefers retry-after-ms, and reads an HTTP-date Retry-After', async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const { provider } = await setup([
      { kind: 'error', status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '60' } },
      { kind: 'error', status: 503, headers: { 'retry-after': at } },
    ]);
    expect(await failure(callModel(provider, ask))).toMatchObject({ retryAfterSeconds: 2 });
    const dated = (await failure(callModel(provider, ask))) as ModelUnavailableError;
    expect(dated).toMatchObject({ reason: 'server_error', httpStatus: 503 });
    expect(dated.retryAfterSeconds).toBeGreaterThanOrEqual(28);
    expect(dated.retryAfterSeconds).toBeLessThanOrEqual(30);
  });

  it.each([500, 502, 408])('classifies %i as transient', async (status) => {
    const { provider } = await setup([{ kind: 'error', status }]);
    const error = await failure(callModel(provider, ask));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toMatchObject({ httpStatus: status });
    expect((error as ModelUnavailableError).retryAfterSeconds).toBeUndefined();
  });

  it.each([
    [
      400,
      {
        error: {
          message: "This model's maximum context length is 8192 tokens",
          type: 'invalid_request_error',
        },
      },
      "This model's maximum context length is 8192 tokens",
    ],
    [401, { error: { message: 'Incorrect API key provided' } }, 'Incorrect API key provided'],
    [
      404,
      { error: 'model "nope" not found, try pulling it first' },
      'model "nope" not found, try pulling it first',
    ],
    [422, { object: 'error', message: 'vLLM says no' }, 'vLLM says no'],
  ])('classifies %i as a permanent refusal with the provider’s message', async (status, body, message) => {
    const { provider } = await setup([{ kind: 'error', status, body }]);
    const error = await failure(callModel(provider, ask));
    expect(error).toBeInstanceOf(ModelRefusedError);
    expect(error).toMatchObject({
      code: 'model_error',
      httpStatus: status,
      message: `the model provider answered ${status}: ${message}`,
    });
  });

  it('classifies a refused connection as unreachable', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const provider = new OpenAiCompatibleProvider({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      defaultModel: 'm',
    });
    const error = await failure(callModel(provider, ask));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toMatchObject({
      reason: 'unreachable',
      message: 'the model provider is unreachable (connection refused)',
    });
  });

  it('gives up on a stream that goes silent, as a transient idle timeout', async () => {
    const { provider } = await setup([{ kind: 'answer', text: ['a', 'b', 'c'], stallAfterChunks: 2 }], {
      idleTimeoutMs: 150,
    });
    const events: ModelStreamEvent[] = [];
    const error = await failure(callModel(provider, ask, (e) => events.push(e)));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toMatchObject({ reason: 'idle_timeout' });
    expect(events).toEqual([{ type: 'text', text: 'a' }]);
  });

  it('bounds the whole call even while chunks keep coming', async () => {
    const { provider } = await setup(
      [{ kind: 'answer', text: Array.from({ length: 50 }, () => 'x'), chunkDelayMs: 20 }],
      {
        callTimeoutMs: 200,
        idleTimeoutMs: 1_000,
      },
    );
    expect(await failure(callModel(provider, ask))).toMatchObject({ reason: 'timeout' });
  });

  it('reports a stream cut off mid-answer as interrupted', async () => {
    const { provider } = await setup([{ kind: 'answer', text: ['a', 'b', 'c'], dropAfterChunks: 3 }]);
    const error = await failure(callModel(provider, ask));
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toMatchObject({ reason: 'stream_interrupted' });
  });

  it('classifies an error sent inside the stream as transient, and a chunk that is not JSON as interrupted', async () => {
    const chunk = (content: string) =>
      JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    const { provider } = await setup([
      {
        kind: 'raw',
        data: [chunk('partial'), JSON.stringify({ error: { message: 'engine overloaded', code: 503 } })],
      },
      { kind: 'raw', data: [chunk('partial'), '{"choices": ['] },
    ]);
    expect(await failure(callModel(provider, ask))).toMatchObject({
      reason: 'server_error',
      message: 'the model stream reported an error: engine overloaded',
    });
    expect(await failure(callModel(provider, ask))).toMatchObject({
      reason: 'stream_interrupted',
      message: 'the model stream sent a chunk that is not JSON',
    });
  });

  it('accepts a server that reports no usage and sends no ids, with zero usage and ids of its own', async () => {
    const { provider } = await setup([
      {
        kind: 'raw',
        data: [
          JSON.stringify({
            choices: [
              {
                index: 0,
                delta: { tool_calls: [{ index: 0, function: { name: 'f', arguments: '{}' } }] },
                finish_reason: null,
              },
            ],
          }),
          JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
          '[DONE]',
        ],
      },
    ]);
    const answer = await callModel(provider, ask);
    expect(answer.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(answer.toolCalls).toEqual([
      { id: expect.stringMatching(/^call_[0-9a-f-]{36}$/), name: 'f', arguments: {} },
    ]);
  });

  it('ends with the caller’s own reason when the caller aborts', async () => {
    const { provider } = await setup([{ kind: 'answer', text: ['a', 'b'], stallAfterChunks: 2 }]);
    const controller = new AbortController();
    const reason = new Error('step cancelled');
    const error = failure(
      callModel(provider, { ...ask, signal: controller.signal }, () => controller.abort(reason)),
    );
    expect(await error).toBe(reason);
  });
});

describe('OpenAiCompatibleProvider.checkReady', () => {
  it('is ready when GET /models lists the default model', async () => {
    const { model, provider } = await setup([], { apiKey: 'k' });
    expect(await provider.checkReady()).toEqual({ ok: true });
    expect(model.requests.map((r) => [r.method, r.path, r.headers.authorization])).toEqual([
      ['GET', '/v1/models', 'Bearer k'],
    ]);
  });

  it('is not ready when the model is not offered, the listing fails or nobody answers', async () => {
    const { model, provider } = await setup([], {}, { apiKey: 'right' });
    expect(await provider.checkReady()).toEqual({ ok: false, reason: 'GET /models answered 401' });
    const other = await setup([], { defaultModel: 'missing' });
    expect(await other.provider.checkReady()).toEqual({
      ok: false,
      reason: 'the model missing is not offered',
    });
    await model.close();
    expect(await provider.checkReady()).toEqual({
      ok: false,
      reason: expect.stringMatching(/^the model provider is unreachable \(/),
    });
  });
});
