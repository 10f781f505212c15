import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource, type FetchLike } from 'eventsource';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiFor } from './client.js';
import { MODEL_TEXT, STREAMED_WORDS, THROTTLE_RETRY_AFTER, USAGE } from './model-scenarios.js';

const api = apiFor('assistant');
const base = inject('apiUrl');
const nonce = () => Math.random().toString(36).slice(2);

const PAGE_TEXT = 'Opening hours: nine to five.';
let page: Server;
let pageUrl: string;

beforeAll(async () => {
  page = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(PAGE_TEXT));
  page.listen(0, '127.0.0.1');
  await once(page, 'listening');
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/hours`;
});

afterAll(() => new Promise((resolve) => page.close(resolve)));

async function submit(input: Record<string, unknown>) {
  const res = await api.create({ agent: 'assistant', input });
  expect(res.status).toBe(202);
  expect(res.body.agentVersion).toBe('1.0.0');
  return res.body.id as string;
}

type LoggedEvent = { seq: number; type: string; at: string; data: Record<string, unknown> };

/** The job's whole log: the events consumer may still be appending when the job reads terminal. */
async function events(id: string): Promise<LoggedEvent[]> {
  const until = Date.now() + 20_000;
  for (;;) {
    const res = await api.call('GET', `/v1/jobs/${id}/events?limit=1000`);
    expect(res.status).toBe(200);
    const items = res.body.items as LoggedEvent[];
    if (items.some((e) => ['job.succeeded', 'job.failed', 'job.cancelled'].includes(e.type))) return items;
    if (Date.now() > until) throw new Error(`the log of job ${id} has no terminal event`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const expectedUsage = (calls: number) => ({
  inputTokens: USAGE.prompt_tokens * calls,
  outputTokens: USAGE.completion_tokens * calls,
  totalTokens: (USAGE.prompt_tokens + USAGE.completion_tokens) * calls,
  modelCalls: calls,
  costUsd: null,
});

describe('the assistant agent over the local stack', () => {
  it('is listed as available with its version and input schema once a provider is configured', async () => {
    const res = await api.call('GET', '/v1/agents/assistant');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'assistant', version: '1.0.0', available: true });
    expect(res.body.inputSchema.properties).toHaveProperty('prompt');
    const all = await api.call('GET', '/v1/agents');
    expect(all.body.items.map((a: { name: string }) => a.name)).toEqual(
      expect.arrayContaining(['echo', 'assistant']),
    );
  });

  it('answers a prompt with the model text, its usage and version', async () => {
    const id = await submit({ prompt: `[plain] ${nonce()}` });
    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      agentVersion: '1.0.0',
      result: { output: MODEL_TEXT.join(''), finishReason: 'stop', steps: 1 },
      usage: expectedUsage(1),
    });
    const deltas = (await events(id)).filter((e) => e.type === 'job.output.delta');
    expect(deltas.map((e) => e.data.text).join('')).toBe(MODEL_TEXT.join(''));
    expect(deltas.every((e) => e.data.step === 1)).toBe(true);
  });

  it('runs fetch_url against a loopback page and gives the model its text', async () => {
    const id = await submit({ prompt: `[fetch ${pageUrl}] ${nonce()}`, serverTools: ['fetch_url'] });
    const done = await api.waitForTerminal(id);
    expect(done.body.status).toBe('succeeded');
    expect(done.body.result.steps).toBe(2);
    expect(done.body.result.output).toContain(PAGE_TEXT);
    expect(done.body.usage).toEqual(expectedUsage(2));
    const toolCalls = (await events(id)).filter((e) => e.type === 'job.tool_call');
    expect(toolCalls.map((e) => e.data)).toEqual([
      { step: 1, id: 'call_fetch_1', name: 'fetch_url', arguments: { url: pageUrl } },
    ]);
  });

  it('pauses for a client tool, refuses a wrong answer, and finishes with the right one', async () => {
    const tools = [
      { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    ];
    const id = await submit({ prompt: `[client] ${nonce()}`, tools });
    const waiting = await api.waitForStatus(id, 'input_required');
    expect(waiting.body.inputRequest).toEqual({
      type: 'tool_calls',
      prompt: expect.any(String),
      toolCalls: [{ id: 'call_weather_1', name: 'get_weather', arguments: { city: 'Paris' } }],
    });
    expect(waiting.body.usage).toEqual(expectedUsage(1));

    const unknown = await api.call('POST', `/v1/jobs/${id}/input`, {
      body: { input: { toolOutputs: [{ toolCallId: 'call_other', output: 'x' }] } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('invalid_input');
    const missing = await api.call('POST', `/v1/jobs/${id}/input`, { body: { input: { toolOutputs: [] } } });
    expect(missing.status).toBe(400);
    expect((await api.get(id)).body.status).toBe('input_required');

    const answered = await api.call('POST', `/v1/jobs/${id}/input`, {
      body: { input: { toolOutputs: [{ toolCallId: 'call_weather_1', output: { sky: 'sunny' } }] } },
    });
    expect(answered.status).toBe(200);
    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      result: { output: 'The weather tool said {"sky":"sunny"}', steps: 2 },
      usage: expectedUsage(2),
    });
  });

  it('waits out a 429 for at least its Retry-After, then succeeds counting the answered call once', async () => {
    const id = await submit({ prompt: `[throttled] ${nonce()}` });
    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({ status: 'succeeded', usage: expectedUsage(1) });
    const log = await events(id);
    const retry = log.find(
      (e) => e.type === 'job.progress' && String(e.data.message).includes('model unavailable'),
    );
    const firstDelta = log.find((e) => e.type === 'job.output.delta');
    expect(retry && firstDelta).toBeTruthy();
    const waitedMs = Date.parse(firstDelta!.at) - Date.parse(retry!.at);
    expect(waitedMs).toBeGreaterThanOrEqual(THROTTLE_RETRY_AFTER * 1000 - 50);
  });

  it('fails with model_unavailable (retryable) once the retries are spent', async () => {
    const id = await submit({ prompt: `[down] ${nonce()}` });
    const done = await api.waitForTerminal(id);
    expect(done.body.error).toMatchObject({ code: 'model_unavailable', retryable: true });
    expect(done.body.usage).toBeNull();
  });

  it('fails with model_error (not retryable) when the provider refuses the call', async () => {
    const id = await submit({ prompt: `[refused] ${nonce()}` });
    const done = await api.waitForTerminal(id);
    expect(done.body.error).toMatchObject({ code: 'model_error', retryable: false });
  });

  it('streams output deltas over SSE whose texts join to the model text', async () => {
    const id = await submit({ prompt: `[stream] ${nonce()}` });
    const authorized: FetchLike = (url, init) =>
      fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${api.key}` } });
    const source = new EventSource(`${base}/v1/jobs/${id}/stream`, { fetch: authorized });
    const texts: string[] = [];
    source.addEventListener('job.output.delta', (e) => texts.push(JSON.parse(e.data).data.text));
    await new Promise<void>((resolve) => source.addEventListener('job.succeeded', () => resolve()));
    source.close();
    expect(texts.join('')).toBe(STREAMED_WORDS.join(''));
    // Batched: fewer events than the model's chunks.
    expect(texts.length).toBeLessThan(STREAMED_WORDS.length);
  });
});
