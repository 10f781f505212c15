import { describe, expect, it } from 'vitest';
import type { AssistantInput } from '../../../../lambdas/agents/assistant/input.js';
import { assistantInputSchema } from '../../../../lambdas/agents/assistant/input.js';
import type { AssistantState, Decision } from '../../../../lambdas/agents/assistant/loop.js';
import {
  applyToolOutputs,
  decideNext,
  initialState,
  modelCallRequest,
  nextAction,
  recordServerResult,
  usageTotals,
} from '../../../../lambdas/agents/assistant/loop.js';
import { ValidationError } from '../../../../lambdas/domain/errors.js';
import type { ModelAnswer, ToolCall } from '../../../../lambdas/domain/model.js';

const NOW = { now: Date.parse('2026-12-01T12:00:00Z') };

const input = (over: Record<string, unknown> = {}): AssistantInput =>
  assistantInputSchema.parse({
    prompt: 'What is the weather in Paris?',
    instructions: 'Be brief.',
    serverTools: ['fetch_url'],
    tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } }],
    ...over,
  });

const call = (id: string, name: string, args: Record<string, unknown> = {}): ToolCall => ({
  id,
  name,
  arguments: args as ToolCall['arguments'],
});

const answer = (over: Partial<ModelAnswer> = {}): ModelAnswer => ({
  text: '',
  toolCalls: [],
  finishReason: 'stop',
  usage: { inputTokens: 100, outputTokens: 20 },
  ...over,
});

function expectType<T extends Decision['type']>(decision: Decision, type: T): Extract<Decision, { type: T }> {
  expect(decision.type).toBe(type);
  return decision as Extract<Decision, { type: T }>;
}

describe('initialState and modelCallRequest', () => {
  it('starts the conversation with the instructions and the prompt, and offers server and client tools', () => {
    const state = initialState(input({ maxOutputTokens: 300, temperature: 0.2, model: 'gpt-4o' }));
    expect(state).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is the weather in Paris?' },
      ],
      modelCalls: 0,
      usage: {},
      pending: null,
    });
    const serverTool = { name: 'fetch_url', parameters: { type: 'object' } };
    expect(
      modelCallRequest(state, input({ maxOutputTokens: 300, temperature: 0.2, model: 'gpt-4o' }), [
        serverTool,
      ]),
    ).toEqual({
      model: 'gpt-4o',
      messages: state.messages,
      tools: [
        serverTool,
        { name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } },
      ],
      maxOutputTokens: 300,
      temperature: 0.2,
    });
  });

  it('takes a whole conversation from messages', () => {
    const messages = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'bye' },
    ];
    expect(initialState(input({ prompt: undefined, instructions: undefined, messages })).messages).toEqual(
      messages,
    );
  });
});

describe('decideNext', () => {
  it('finishes with the text when the model calls no tool', () => {
    const decision = decideNext(
      initialState(input()),
      { step: 1, answer: answer({ text: 'Sunny.' }) },
      input(),
      NOW,
    );
    const finish = expectType(decision, 'finish');
    expect(finish.result).toEqual({ output: 'Sunny.', finishReason: 'stop', steps: 1 });
    expect(finish.state.messages.at(-1)).toEqual({ role: 'assistant', content: 'Sunny.' });
    expect(finish.state.modelCalls).toBe(1);
  });

  it('keeps going when the model returns tool calls with finish reason "stop"', () => {
    const calls = [call('c1', 'fetch_url', { url: 'https://example.com' })];
    const decision = decideNext(
      initialState(input()),
      { step: 1, answer: answer({ toolCalls: calls, finishReason: 'stop' }) },
      input(),
      NOW,
    );
    expect(expectType(decision, 'run_server_tools').calls).toEqual(calls);
  });

  it('answers an unknown tool with a tool error for the model, and calls the model again', () => {
    const decision = decideNext(
      initialState(input()),
      {
        step: 1,
        answer: answer({
          toolCalls: [call('c1', 'launch_rockets', { count: 3 })],
          finishReason: 'tool_calls',
        }),
      },
      input(),
      NOW,
    );
    const next = expectType(decision, 'call_model');
    expect(next.step).toBe(2);
    expect(next.state.messages.slice(-2)).toEqual([
      { role: 'assistant', content: '', toolCalls: [call('c1', 'launch_rockets', { count: 3 })] },
      {
        role: 'tool',
        toolCallId: 'c1',
        content: JSON.stringify({
          error: 'unknown tool "launch_rockets"; available tools: fetch_url, get_weather',
        }),
        isError: true,
      },
    ]);
    expect(next.state.pending).toBeNull();
  });

  it('answers arguments that are not a JSON object with a tool error', () => {
    const bad: ToolCall = { id: 'c1', name: 'get_weather', arguments: {}, invalidArguments: '{"city": "Par' };
    const next = expectType(
      decideNext(initialState(input()), { step: 1, answer: answer({ toolCalls: [bad] }) }, input(), NOW),
      'call_model',
    );
    expect(next.state.messages.at(-1)).toMatchObject({
      role: 'tool',
      toolCallId: 'c1',
      isError: true,
      content: JSON.stringify({ error: 'the arguments of get_weather are not a JSON object' }),
    });
  });

  it('pauses for client tools once the server tools of the same answer have run', () => {
    const calls = [
      call('s1', 'fetch_url', { url: 'https://example.com' }),
      call('k1', 'get_weather', { city: 'Paris' }),
    ];
    const first = expectType(
      decideNext(initialState(input()), { step: 1, answer: answer({ toolCalls: calls }) }, input(), NOW),
      'run_server_tools',
    );
    expect(first.calls.map((c) => c.id)).toEqual(['s1']);
    const afterServer = recordServerResult(first.state, 's1', {
      output: { status: 200, contentType: 'text/plain', text: 'hi' },
      isError: false,
    });
    const pause = expectType(nextAction(afterServer, input(), NOW), 'await_client');
    expect(pause.inputRequest).toEqual({
      type: 'tool_calls',
      prompt:
        'The assistant called a client tool (get_weather). Answer with toolOutputs, one per tool call id.',
      toolCalls: [{ id: 'k1', name: 'get_weather', arguments: { city: 'Paris' } }],
    });

    const answered = applyToolOutputs(pause.state, {
      toolOutputs: [{ toolCallId: 'k1', output: { tempC: 18 } }],
    });
    const next = expectType(nextAction(answered, input(), NOW), 'call_model');
    expect(next.step).toBe(2);
    // Results go back in the order the model made the calls.
    expect(next.state.messages.slice(-2)).toEqual([
      {
        role: 'tool',
        toolCallId: 's1',
        content: JSON.stringify({ status: 200, contentType: 'text/plain', text: 'hi' }),
      },
      { role: 'tool', toolCallId: 'k1', content: JSON.stringify({ tempC: 18 }) },
    ]);
  });

  it('stops at maxSteps with the text so far, without running the last tool calls', () => {
    let state: AssistantState = initialState(input({ maxSteps: 2 }));
    const withTool = (id: string) => answer({ text: `step ${id}`, toolCalls: [call(id, 'no_such_tool')] });
    const first = expectType(
      decideNext(state, { step: 1, answer: withTool('a') }, input({ maxSteps: 2 }), NOW),
      'call_model',
    );
    state = first.state;
    const second = expectType(
      decideNext(state, { step: 2, answer: withTool('b') }, input({ maxSteps: 2 }), NOW),
      'finish',
    );
    expect(second.result).toEqual({ output: 'step b', finishReason: 'max_steps', steps: 2 });
    expect(second.state.pending).toBeNull();
  });

  it('still finishes on a final answer at the last allowed step', () => {
    const decision = decideNext(
      initialState(input({ maxSteps: 1 })),
      { step: 1, answer: answer({ text: 'done' }) },
      input({ maxSteps: 1 }),
      NOW,
    );
    expect(expectType(decision, 'finish').result).toEqual({ output: 'done', finishReason: 'stop', steps: 1 });
  });

  it('stops at the deadline or on cancel instead of going on', () => {
    const calls = [call('c1', 'fetch_url', { url: 'https://example.com' })];
    const toolAnswer = { step: 1, answer: answer({ toolCalls: calls }) };
    const late = decideNext(initialState(input()), toolAnswer, input(), { now: 2_000, deadline: 1_000 });
    expect(expectType(late, 'stop').reason).toBe('deadline');
    expect(late.state.modelCalls).toBe(1);
    const cancelled = decideNext(initialState(input()), toolAnswer, input(), { ...NOW, cancelled: true });
    expect(expectType(cancelled, 'stop').reason).toBe('cancelled');
  });

  it('records an answer once: deciding the same step again adds no message and no usage', () => {
    const calls = [call('c1', 'get_weather', { city: 'Oslo' })];
    const once = decideNext(
      initialState(input()),
      { step: 1, answer: answer({ toolCalls: calls }) },
      input(),
      NOW,
    );
    const again = decideNext(
      once.state,
      { step: 1, answer: answer({ toolCalls: calls, usage: { inputTokens: 999, outputTokens: 999 } }) },
      input(),
      NOW,
    );
    expect(again.state).toEqual(once.state);
    expect(expectType(again, 'await_client').inputRequest.toolCalls.map((c) => c.id)).toEqual(['c1']);
  });
});

describe('recordServerResult', () => {
  it('keeps the first result of a call and ignores calls that are not pending server calls', () => {
    const calls = [call('s1', 'fetch_url', { url: 'https://example.com' }), call('k1', 'get_weather')];
    const { state } = decideNext(
      initialState(input()),
      { step: 1, answer: answer({ toolCalls: calls }) },
      input(),
      NOW,
    );
    const first = recordServerResult(state, 's1', { output: 'first', isError: false });
    expect(recordServerResult(first, 's1', { output: 'second', isError: false })).toBe(first);
    expect(recordServerResult(first, 'k1', { output: 'client', isError: false })).toBe(first);
    expect(first.pending?.results).toEqual({ s1: { output: 'first', isError: false } });
  });
});

describe('applyToolOutputs', () => {
  const waiting = () => {
    const calls = [call('k1', 'get_weather', { city: 'Paris' }), call('k2', 'get_weather', { city: 'Rome' })];
    return decideNext(initialState(input()), { step: 1, answer: answer({ toolCalls: calls }) }, input(), NOW)
      .state;
  };

  function refusal(state: AssistantState, body: unknown): ValidationError {
    try {
      applyToolOutputs(state, body);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return error as ValidationError;
    }
    return expect.unreachable('the answer was accepted');
  }

  it('refuses an answer that misses a call id, as invalid_input', () => {
    const error = refusal(waiting(), { toolOutputs: [{ toolCallId: 'k1', output: 1 }] });
    expect(error.code).toBe('invalid_input');
    expect(error.errors).toEqual([
      { path: 'input.toolOutputs', message: 'missing the output of tool call k2 (get_weather)' },
    ]);
  });

  it('refuses an unknown or repeated call id', () => {
    const error = refusal(waiting(), {
      toolOutputs: [
        { toolCallId: 'k1', output: 1 },
        { toolCallId: 'k1', output: 2 },
        { toolCallId: 'nope', output: 3 },
        { toolCallId: 'k2', output: 4 },
      ],
    });
    expect(error.errors).toEqual([
      { path: 'input.toolOutputs.1.toolCallId', message: 'tool call k1 is answered more than once' },
      { path: 'input.toolOutputs.2.toolCallId', message: 'no tool call nope is waiting for an output' },
    ]);
  });

  it('refuses an answer of the wrong shape, and leaves the state as it was', () => {
    const state = waiting();
    const before = structuredClone(state);
    expect(refusal(state, { outputs: [] }).code).toBe('invalid_input');
    expect(refusal(state, { toolOutputs: [{ toolCallId: 'k1' }] }).errors?.[0]?.path).toBe(
      'input.toolOutputs.0.output',
    );
    expect(state).toEqual(before);
  });
});

describe('usageTotals', () => {
  it('sums answered calls once each, whatever was recorded twice, and prices known models', () => {
    let state = initialState(input());
    const tool = [call('x', 'unknown_tool')];
    state = decideNext(
      state,
      { step: 1, answer: answer({ toolCalls: tool, usage: { inputTokens: 1_000, outputTokens: 200 } }) },
      input(),
      NOW,
    ).state;
    // A retried step hands in the same answer again: it is not counted twice.
    state = decideNext(
      state,
      { step: 1, answer: answer({ toolCalls: tool, usage: { inputTokens: 1_000, outputTokens: 200 } }) },
      input(),
      NOW,
    ).state;
    state = decideNext(
      state,
      { step: 2, answer: answer({ text: 'ok', usage: { inputTokens: 1_500, outputTokens: 50 } }) },
      input(),
      NOW,
    ).state;

    expect(usageTotals(state, 'gpt-4o-mini')).toEqual({
      inputTokens: 2_500,
      outputTokens: 250,
      totalTokens: 2_750,
      modelCalls: 2,
      // 2500 * 0.15 / 1e6 + 250 * 0.60 / 1e6
      costUsd: 0.000525,
    });
    expect(usageTotals(state, 'my-local-llama').costUsd).toBeNull();
    expect(usageTotals(initialState(input()), 'gpt-4o')).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
      modelCalls: 0,
      costUsd: 0,
    });
  });
});
