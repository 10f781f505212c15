import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelStreamEvent } from '../../../../lambdas/adapters/models/model-provider.js';
import { callModel } from '../../../../lambdas/adapters/models/model-provider.js';
import { OpenAiCompatibleProvider } from '../../../../lambdas/adapters/models/openai-compatible.js';
import type { AssistantInput } from '../../../../lambdas/agents/assistant/input.js';
import { assistantInputSchema } from '../../../../lambdas/agents/assistant/input.js';
import type { AssistantResult, AssistantState, Decision } from '../../../../lambdas/agents/assistant/loop.js';
import {
  applyToolOutputs,
  decideNext,
  initialState,
  modelCallRequest,
  nextAction,
  recordServerResult,
  usageTotals,
} from '../../../../lambdas/agents/assistant/loop.js';
import { runServerTool, serverToolDefinition } from '../../../../lambdas/agents/assistant/server-tools.js';
import type { ScriptedReply } from '../../../fixtures/scripted-model-server.js';
import { ScriptedModelServer } from '../../../fixtures/scripted-model-server.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function modelServer(script: ScriptedReply[]) {
  const server = await new ScriptedModelServer({ script, models: ['scripted-model'] }).start();
  closers.push(() => server.close());
  return server;
}

async function page(text: string) {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/doc`;
}

/**
 * Runs the loop the way a step runner will: each decision performed, the state it returns kept,
 * until the loop finishes or pauses for the client. The texts streamed per step are collected.
 */
async function run(provider: OpenAiCompatibleProvider, input: AssistantInput, start: AssistantState) {
  const ctx = { now: Date.now() };
  const serverTools = (input.serverTools ?? []).map(serverToolDefinition);
  const deltas: Record<number, string> = {};
  let decision: Decision = nextAction(start, input, ctx);
  for (;;) {
    if (decision.type === 'call_model') {
      const step = decision.step;
      const onEvent = (e: ModelStreamEvent) => {
        if (e.type === 'text') deltas[step] = (deltas[step] ?? '') + e.text;
      };
      const answer = await callModel(provider, modelCallRequest(decision.state, input, serverTools), onEvent);
      decision = decideNext(decision.state, { step, answer }, input, ctx);
    } else if (decision.type === 'run_server_tools') {
      let state = decision.state;
      for (const call of decision.calls) {
        const result = await runServerTool(call.name, call.arguments, {
          signal: new AbortController().signal,
          deployment: 'local',
        });
        state = recordServerResult(state, call.id, result);
      }
      decision = nextAction(state, input, ctx);
    } else {
      return { decision, deltas };
    }
  }
}

describe('the assistant loop driving a real provider and server tool', () => {
  it('fetches a page with fetch_url and answers from it', async () => {
    const url = await page('The launch is on Tuesday.');
    const model = await modelServer([
      {
        kind: 'answer',
        text: ['Reading it.'],
        toolCalls: [{ id: 'call_1', name: 'fetch_url', arguments: { url } }],
        usage: { prompt_tokens: 50, completion_tokens: 12 },
      },
      {
        kind: 'answer',
        text: ['The launch ', 'is on Tuesday.'],
        usage: { prompt_tokens: 90, completion_tokens: 6 },
      },
    ]);
    const provider = new OpenAiCompatibleProvider({ baseUrl: model.baseUrl, defaultModel: 'scripted-model' });
    const input = assistantInputSchema.parse({
      prompt: `When is the launch? See ${url}`,
      serverTools: ['fetch_url'],
    });

    const { decision, deltas } = await run(provider, input, initialState(input));

    expect(decision.type).toBe('finish');
    expect((decision as { result: AssistantResult }).result).toEqual({
      output: 'The launch is on Tuesday.',
      finishReason: 'stop',
      steps: 2,
    });
    expect(deltas).toEqual({ 1: 'Reading it.', 2: 'The launch is on Tuesday.' });
    const secondCall = model.chatBodies[1]!;
    expect(secondCall.tools).toEqual([{ type: 'function', function: serverToolDefinition('fetch_url') }]);
    expect((secondCall.messages as unknown[]).slice(-2)).toEqual([
      {
        role: 'assistant',
        content: 'Reading it.',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'fetch_url', arguments: JSON.stringify({ url }) },
          },
        ],
      },
      {
        role: 'tool',
        tool_call_id: 'call_1',
        content: JSON.stringify({
          status: 200,
          contentType: 'text/plain',
          text: 'The launch is on Tuesday.',
        }),
      },
    ]);
    expect(usageTotals(decision.state, 'scripted-model')).toEqual({
      inputTokens: 140,
      outputTokens: 18,
      totalTokens: 158,
      modelCalls: 2,
      costUsd: null,
    });
  });

  it('pauses for a client tool and resumes with its output', async () => {
    const model = await modelServer([
      {
        kind: 'answer',
        toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: { city: 'Oslo' } }],
        finishReason: 'stop',
      },
      { kind: 'answer', text: ['It is 3 °C in Oslo.'] },
    ]);
    const provider = new OpenAiCompatibleProvider({ baseUrl: model.baseUrl, defaultModel: 'scripted-model' });
    const input = assistantInputSchema.parse({
      prompt: 'Weather in Oslo?',
      tools: [
        { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      ],
    });

    const paused = await run(provider, input, initialState(input));
    expect(paused.decision.type).toBe('await_client');
    expect((paused.decision as Extract<Decision, { type: 'await_client' }>).inputRequest.toolCalls).toEqual([
      { id: 'call_w', name: 'get_weather', arguments: { city: 'Oslo' } },
    ]);

    const answered = applyToolOutputs(paused.decision.state, {
      toolOutputs: [{ toolCallId: 'call_w', output: { tempC: 3 } }],
    });
    const resumed = await run(provider, input, answered);
    expect((resumed.decision as { result: AssistantResult }).result).toEqual({
      output: 'It is 3 °C in Oslo.',
      finishReason: 'stop',
      steps: 2,
    });
    expect((model.chatBodies[1]!.messages as unknown[]).at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_w',
      content: '{"tempC":3}',
    });
    expect(model.chatBodies).toHaveLength(2);
  });
});
