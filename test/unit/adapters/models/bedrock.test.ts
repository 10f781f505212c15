import { BedrockClient, GetFoundationModelAvailabilityCommand } from '@aws-sdk/client-bedrock';
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseStreamCommand,
  ModelErrorException,
  ModelNotReadyException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { BedrockProvider, toBedrockMessages } from '../../../../lambdas/adapters/models/bedrock.js';
import { bedrockModelAvailability } from '../../../../lambdas/adapters/models/bedrock-availability.js';
import type { ModelStreamEvent } from '../../../../lambdas/adapters/models/model-provider.js';
import { callModel } from '../../../../lambdas/adapters/models/model-provider.js';
import { ModelRefusedError, ModelUnavailableError } from '../../../../lambdas/domain/model-errors.js';

const runtime = mockClient(BedrockRuntimeClient);
const control = mockClient(BedrockClient);
beforeEach(() => {
  runtime.reset();
  control.reset();
});

const MODEL = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const provider = new BedrockProvider({ defaultModel: MODEL });
const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

/** A ConverseStream event stream as the SDK hands it over; `fail` is thrown after the events. */
async function* events(list: ConverseStreamOutput[], fail?: Error): AsyncGenerator<ConverseStreamOutput> {
  for (const event of list) yield event;
  if (fail) throw fail;
}

/** The events Bedrock sends for a text answer followed by one tool use, in the API's order. */
const TOOL_ANSWER: ConverseStreamOutput[] = [
  { messageStart: { role: 'assistant' } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Checking ' } } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'the weather.' } } },
  { contentBlockStop: { contentBlockIndex: 0 } },
  {
    contentBlockStart: {
      contentBlockIndex: 1,
      start: { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather' } },
    },
  },
  { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } } },
  { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: ' "Lyon"}' } } } },
  { contentBlockStop: { contentBlockIndex: 1 } },
  { messageStop: { stopReason: 'tool_use' } },
  {
    metadata: {
      usage: { inputTokens: 321, outputTokens: 45, totalTokens: 366 },
      metrics: { latencyMs: 812 },
    },
  },
];

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('the call succeeded'),
    (error: unknown) => error,
  );
}

describe('BedrockProvider.stream', () => {
  it('maps a streamed answer with text and a tool use, its stop reason and usage', async () => {
    runtime.on(ConverseStreamCommand).resolves({ stream: events(TOOL_ANSWER), $metadata: {} });
    const seen: ModelStreamEvent[] = [];
    const answer = await callModel(provider, ask, (e) => seen.push(e));
    const call = { id: 'tooluse_1', name: 'get_weather', arguments: { city: 'Lyon' } };
    expect(answer).toEqual({
      text: 'Checking the weather.',
      toolCalls: [call],
      finishReason: 'tool_calls',
      usage: { inputTokens: 321, outputTokens: 45 },
    });
    expect(seen).toEqual([
      { type: 'text', text: 'Checking ' },
      { type: 'text', text: 'the weather.' },
      { type: 'tool_call', call },
    ]);
  });

  it('sends the conversation, system prompt, tools and inference settings in Converse’s shape', async () => {
    runtime.on(ConverseStreamCommand).resolves({
      stream: events([
        { messageStop: { stopReason: 'end_turn' } },
        {
          metadata: { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, metrics: { latencyMs: 1 } },
        },
      ]),
      $metadata: {},
    });
    const answer = await callModel(provider, {
      maxOutputTokens: 256,
      temperature: 0.5,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'weather in Lyon and Oslo?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 't1', name: 'get_weather', arguments: { city: 'Lyon' } },
            { id: 't2', name: 'get_weather', arguments: { city: 'Oslo' } },
          ],
        },
        { role: 'tool', toolCallId: 't1', content: '{"temp":12}' },
        { role: 'tool', toolCallId: 't2', content: '{"error":"unknown city"}', isError: true },
      ],
      tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } }],
    });
    expect(answer.finishReason).toBe('stop');
    expect(runtime.commandCalls(ConverseStreamCommand)[0]!.args[0].input).toEqual({
      modelId: MODEL,
      system: [{ text: 'be brief' }],
      messages: [
        { role: 'user', content: [{ text: 'weather in Lyon and Oslo?' }] },
        {
          role: 'assistant',
          content: [
            { toolUse: { toolUseId: 't1', name: 'get_weather', input: { city: 'Lyon' } } },
            { toolUse: { toolUseId: 't2', name: 'get_weather', input: { city: 'Oslo' } } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: 't1', content: [{ text: '{"temp":12}' }] } },
            { toolResult: { toolUseId: 't2', content: [{ text: '{"error":"unknown city"}' }] } },
          ],
        },
      ],
      inferenceConfig: { maxTokens: 256, temperature: 0.5 },
      toolConfig: {
        tools: [
          {
            toolSpec: {
              name: 'get_weather',
              description: 'Weather now',
              inputSchema: { json: { type: 'object' } },
            },
          },
        ],
      },
    });
  });

  it.each([
    ['max_tokens', 'length'],
    ['stop_sequence', 'stop'],
    ['guardrail_intervened', 'content_filter'],
    ['model_context_window_exceeded', 'length'],
  ] as const)('maps stop reason %s to %s', async (stopReason, finishReason) => {
    runtime
      .on(ConverseStreamCommand)
      .resolves({ stream: events([{ messageStop: { stopReason } }]), $metadata: {} });
    expect(await callModel(provider, ask)).toMatchObject({
      finishReason,
      usage: { inputTokens: 0, outputTokens: 0 },
    });
  });

  it.each([
    [
      'ThrottlingException',
      new ThrottlingException({ message: 'Too many requests', $metadata: { httpStatusCode: 429 } }),
      'throttled',
    ],
    [
      'ServiceUnavailableException',
      new ServiceUnavailableException({ message: 'busy', $metadata: { httpStatusCode: 503 } }),
      'server_error',
    ],
    [
      'ModelNotReadyException',
      new ModelNotReadyException({ message: 'warming', $metadata: { httpStatusCode: 429 } }),
      'not_ready',
    ],
    [
      'a network error',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'unreachable',
    ],
  ])('classifies %s as transient', async (_label, error, reason) => {
    runtime.on(ConverseStreamCommand).rejects(error);
    const caught = await failure(callModel(provider, ask));
    expect(caught).toBeInstanceOf(ModelUnavailableError);
    expect(caught).toMatchObject({ reason, code: 'model_unavailable' });
  });

  it('keeps the Retry-After of a throttled call', async () => {
    const error = new ThrottlingException({ message: 'slow down', $metadata: { httpStatusCode: 429 } });
    Object.assign(error, { $response: { statusCode: 429, headers: { 'retry-after': '4' } } });
    runtime.on(ConverseStreamCommand).rejects(error);
    expect(await failure(callModel(provider, ask))).toMatchObject({ retryAfterSeconds: 4, httpStatus: 429 });
  });

  it.each([
    [
      'ValidationException',
      new ValidationException({
        message: 'Input is too long for requested model.',
        $metadata: { httpStatusCode: 400 },
      }),
    ],
    [
      'AccessDeniedException',
      new AccessDeniedException({ message: 'no access', $metadata: { httpStatusCode: 403 } }),
    ],
    [
      'ModelErrorException (4xx)',
      new ModelErrorException({
        message: 'bad',
        originalStatusCode: 424,
        $metadata: { httpStatusCode: 424 },
      }),
    ],
  ])('classifies %s as a permanent refusal', async (_label, error) => {
    runtime.on(ConverseStreamCommand).rejects(error);
    const caught = await failure(callModel(provider, ask));
    expect(caught).toBeInstanceOf(ModelRefusedError);
    expect((caught as Error).message).toBe(`Bedrock ${error.name}: ${error.message}`);
  });

  it('classifies an exception thrown mid-stream, after some text went out', async () => {
    const midStream = new ThrottlingException({ message: 'rate exceeded', $metadata: {} });
    runtime
      .on(ConverseStreamCommand)
      .resolves({ stream: events(TOOL_ANSWER.slice(0, 3), midStream), $metadata: {} });
    const seen: ModelStreamEvent[] = [];
    const caught = await failure(callModel(provider, ask, (e) => seen.push(e)));
    expect(caught).toMatchObject({ reason: 'throttled' });
    expect(seen).toHaveLength(2);
  });

  it('treats a stream that ends without its stop event as interrupted', async () => {
    runtime.on(ConverseStreamCommand).resolves({ stream: events(TOOL_ANSWER.slice(0, 4)), $metadata: {} });
    expect(await failure(callModel(provider, ask))).toMatchObject({ reason: 'stream_interrupted' });
  });

  it('gives up on a stream that goes silent', async () => {
    async function* stalled(): AsyncGenerator<ConverseStreamOutput> {
      yield { messageStart: { role: 'assistant' } };
      await new Promise(() => undefined);
    }
    runtime.on(ConverseStreamCommand).resolves({ stream: stalled(), $metadata: {} });
    const quick = new BedrockProvider({ defaultModel: MODEL, idleTimeoutMs: 100 });
    expect(await failure(callModel(quick, ask))).toMatchObject({ reason: 'idle_timeout' });
  });
});

describe('toBedrockMessages', () => {
  it('drops system and empty messages and merges consecutive turns of one role', () => {
    expect(
      toBedrockMessages([
        { role: 'system', content: 'x' },
        { role: 'user', content: 'a' },
        { role: 'user', content: '' },
        { role: 'user', content: 'b' },
        { role: 'assistant', content: 'c' },
      ]),
    ).toEqual([
      { role: 'user', content: [{ text: 'a' }, { text: 'b' }] },
      { role: 'assistant', content: [{ text: 'c' }] },
    ]);
  });
});

describe('BedrockProvider.checkReady', () => {
  const checked = new BedrockProvider({ defaultModel: MODEL, availability: bedrockModelAvailability });

  it('is not ready without an availability check', async () => {
    expect(await provider.checkReady()).toEqual({ ok: false, reason: 'no availability check is configured' });
  });

  it('asks the control plane about the foundation model behind an inference profile', async () => {
    control.on(GetFoundationModelAvailabilityCommand).resolves({
      modelId: 'anthropic.claude-sonnet-4-20250514-v1:0',
      agreementAvailability: { status: 'AVAILABLE' },
      authorizationStatus: 'AUTHORIZED',
      entitlementAvailability: 'AVAILABLE',
      regionAvailability: 'AVAILABLE',
    });
    expect(await checked.checkReady()).toEqual({ ok: true });
    expect(control.commandCalls(GetFoundationModelAvailabilityCommand)[0]!.args[0].input).toEqual({
      modelId: 'anthropic.claude-sonnet-4-20250514-v1:0',
    });
    expect(runtime.calls()).toHaveLength(0);
  });

  it('is not ready when the account may not use the model, or the check fails', async () => {
    control
      .on(GetFoundationModelAvailabilityCommand)
      .rejectsOnce(new Error('boom'))
      .resolvesOnce({
        modelId: 'anthropic.claude-sonnet-4-20250514-v1:0',
        agreementAvailability: { status: 'PENDING' },
        authorizationStatus: 'NOT_AUTHORIZED',
        entitlementAvailability: 'AVAILABLE',
        regionAvailability: 'AVAILABLE',
      });
    expect(await checked.checkReady()).toEqual({ ok: false, reason: 'model availability unknown (Error)' });
    expect(await checked.checkReady()).toEqual({
      ok: false,
      reason: 'the model anthropic.claude-sonnet-4-20250514-v1:0 is not authorized, agreement pending',
    });
  });
});
