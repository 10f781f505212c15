import { describe, expect, it } from 'vitest';
import { callModel } from '../../lambdas/adapters/models/model-provider.js';
import { OpenAiCompatibleProvider } from '../../lambdas/adapters/models/openai-compatible.js';
import { decideNext, initialState, modelCallRequest } from '../../lambdas/agents/assistant/loop.js';
import { assistantInputSchema } from '../../lambdas/agents/assistant/input.js';

/**
 * LIVE: runs only when AGENT_JOBS_LIVE_OPENAI_BASE_URL names a real OpenAI-compatible endpoint
 * (with AGENT_JOBS_LIVE_OPENAI_API_KEY and AGENT_JOBS_LIVE_MODEL as it needs), e.g.
 * `AGENT_JOBS_LIVE_OPENAI_BASE_URL=http://127.0.0.1:11434/v1 AGENT_JOBS_LIVE_MODEL=llama3.2
 * npx vitest run test/integration/live-openai.test.ts`. It spends tokens.
 */
const baseUrl = process.env.AGENT_JOBS_LIVE_OPENAI_BASE_URL;
const apiKey = process.env.AGENT_JOBS_LIVE_OPENAI_API_KEY;

describe.skipIf(!baseUrl)('LIVE OpenAI-compatible endpoint', () => {
  const provider = new OpenAiCompatibleProvider({
    baseUrl: baseUrl ?? '',
    defaultModel: process.env.AGENT_JOBS_LIVE_MODEL ?? 'gpt-4o-mini',
    ...(apiKey ? { apiKey } : {}),
  });

  it('is ready and offers the model', async () => {
    expect(await provider.checkReady()).toEqual({ ok: true });
  });

  it('streams an answer whose text deltas join to its text, with usage', async () => {
    const input = assistantInputSchema.parse({ prompt: 'Say hello in three words.', maxOutputTokens: 50 });
    const texts: string[] = [];
    const answer = await callModel(provider, modelCallRequest(initialState(input), input, []), (e) => {
      if (e.type === 'text') texts.push(e.text);
    });
    expect(answer.text.length).toBeGreaterThan(0);
    expect(texts.join('')).toBe(answer.text);
    expect(answer.usage.inputTokens).toBeGreaterThan(0);
  });

  it('calls a client tool when asked to', async () => {
    const input = assistantInputSchema.parse({
      prompt: 'What is the weather in Paris? Use the get_weather tool.',
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ],
    });
    const state = initialState(input);
    const answer = await callModel(provider, modelCallRequest(state, input, []));
    const next = decideNext(state, { step: 1, answer }, input, { now: Date.now() });
    expect(next.type).toBe('await_client');
  }, 120_000);
});
