import { once } from 'node:events';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource, type FetchLike } from 'eventsource';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { apiFor, executionsNamed } from './client.js';
import {
  BIG_ARGUMENTS_BYTES,
  BIG_OUTPUT,
  BROKEN_ATTEMPT,
  CLIENT_NOTES,
  MODEL_TEXT,
  STREAMED_WORDS,
  THROTTLE_RETRY_AFTER,
  USAGE,
  WHOLE_ANSWER,
} from './model-scenarios.js';

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

async function submit(input: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const res = await api.create({ agent: 'assistant', input, ...extra });
  expect(res.status).toBe(202);
  expect(res.body.agentVersion).toBe('1.0.0');
  return res.body.id as string;
}

type LoggedEvent = { seq: number; type: string; at: string; data: Record<string, unknown> };

/** The job's whole log: the events consumer may still be appending when the job reads terminal. */
async function events(id: string): Promise<LoggedEvent[]> {
  const until = Date.now() + 20_000;
  const items: LoggedEvent[] = [];
  for (;;) {
    const after = items.at(-1)?.seq ?? 0;
    const res = await api.call('GET', `/v1/jobs/${id}/events?limit=1000&after=${after}`);
    expect(res.status).toBe(200);
    items.push(...(res.body.items as LoggedEvent[]));
    if (items.some((e) => ['job.succeeded', 'job.failed', 'job.cancelled'].includes(e.type))) return items;
    if (res.body.nextCursor !== null) continue;
    if (Date.now() > until) throw new Error(`the log of job ${id} has no terminal event`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The text of each model call as a client following the log in order builds it: deltas joined by
 * step, a step's text dropped again on `job.output.reset` for it (an earlier attempt's).
 */
function textsByStep(log: readonly { type: string; data: Record<string, unknown> }[]) {
  const texts = new Map<number, string>();
  for (const e of log) {
    const step = e.data.step as number;
    if (e.type === 'job.output.reset') texts.delete(step);
    if (e.type === 'job.output.delta') texts.set(step, (texts.get(step) ?? '') + (e.data.text as string));
  }
  return texts;
}

/** A loopback webhook receiver keeping the parsed bodies it was sent. */
async function webhookReceiver() {
  const bodies: { type: string; data: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers['webhook-id'] !== undefined) bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const close = () => new Promise((resolve) => server.close(resolve));
  return { bodies, url, close };
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

  it('resumes a dropped SSE stream of deltas with Last-Event-ID, and the texts still join to the model text', async () => {
    const id = await submit({ prompt: `[stream] ${nonce()}` });
    const follow = (lastEventId?: string) => {
      const authorized: FetchLike = (url, init) =>
        fetch(url, {
          ...init,
          headers: {
            ...(lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId }),
            ...init.headers,
            authorization: `Bearer ${api.key}`,
          },
        });
      return new EventSource(`${base}/v1/jobs/${id}/stream`, { fetch: authorized });
    };
    const seqs: number[] = [];
    const texts: string[] = [];
    const first = follow();
    // Events parsed from the same read may still be dispatched after close: only the first counts.
    const lastSeen = await new Promise<string>((resolve) =>
      first.addEventListener('job.output.delta', (e) => {
        if (seqs.length > 0) return;
        seqs.push(Number(e.lastEventId));
        texts.push(JSON.parse(e.data).data.text);
        first.close();
        resolve(e.lastEventId);
      }),
    );
    expect(texts.join('').length).toBeLessThan(STREAMED_WORDS.join('').length);
    const resumed = follow(lastSeen);
    resumed.addEventListener('job.output.delta', (e) => {
      seqs.push(Number(e.lastEventId));
      texts.push(JSON.parse(e.data).data.text);
    });
    await new Promise<void>((resolve) => resumed.addEventListener('job.succeeded', () => resolve()));
    resumed.close();
    expect(texts.join('')).toBe(STREAMED_WORDS.join(''));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('stores and returns a 1 MiB model answer whole', async () => {
    const id = await submit({ prompt: `[big] ${nonce()}` });
    const done = await api.waitForTerminal(id, 120_000);
    expect(done.body.error).toBeNull();
    expect(done.body.status).toBe('succeeded');
    expect(done.body.result.output).toBe(BIG_OUTPUT.join(''));
    expect(done.body.result.output.length).toBe(1024 * 1024);
    expect(textsByStep(await events(id)).get(1)).toBe(BIG_OUTPUT.join(''));
    // The workflow only passes references and outcomes: no state input or output nears 256 KiB.
    const sfn = new SFNClient({
      endpoint: inject('sfnEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const [execution] = await executionsNamed(id);
    const history = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: execution!.executionArn, maxResults: 1000 }),
    );
    const payloads = (history.events ?? []).flatMap((e) =>
      [e.stateEnteredEventDetails?.input, e.stateExitedEventDetails?.output].filter((p) => p !== undefined),
    );
    expect(payloads.length).toBeGreaterThan(0);
    expect(Math.max(...payloads.map((p) => Buffer.byteLength(p)))).toBeLessThan(16 * 1024);
  }, 150_000);

  it('drops the deltas of a broken stream for a client that applies job.output.reset', async () => {
    const id = await submit({ prompt: `[broken] ${nonce()}` });
    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      result: { output: WHOLE_ANSWER.join(''), steps: 1 },
      usage: expectedUsage(1),
    });
    const log = await events(id);
    const deltas = log.filter((e) => e.type === 'job.output.delta');
    // The first attempt's text reached the log before its connection dropped.
    expect(BROKEN_ATTEMPT.join('').startsWith(deltas[0]!.data.text as string)).toBe(true);
    const reset = log.findIndex((e) => e.type === 'job.output.reset');
    expect(reset).toBeGreaterThan(log.indexOf(deltas[0]!));
    expect(log[reset]!.data).toEqual({ step: 1 });
    expect(textsByStep(log)).toEqual(new Map([[1, WHOLE_ANSWER.join('')]]));
  });

  it('keeps a ~300 KB tool call off the job item and finishes the job', async () => {
    const id = await submit({ prompt: `[bigargs ${pageUrl}] ${nonce()}`, serverTools: ['fetch_url'] });
    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({ status: 'succeeded', usage: expectedUsage(2) });
    const call = (await events(id)).find((e) => e.type === 'job.tool_call');
    expect(call!.data).toMatchObject({ step: 1, id: 'call_big_1', name: 'fetch_url', arguments: null });
    expect(call!.data.argumentsTruncated).toEqual({ bytes: expect.any(Number) });
    expect((call!.data.argumentsTruncated as { bytes: number }).bytes).toBeGreaterThan(BIG_ARGUMENTS_BYTES);
  });

  describe('webhooks of a job waiting on client tools', () => {
    const tools = [{ name: 'get_weather', parameters: { type: 'object' } }];
    const inputRequired = async (bodies: { type: string; data: Record<string, unknown> }[]) => {
      const until = Date.now() + 20_000;
      for (;;) {
        const body = bodies.find((b) => b.type === 'job.input_required');
        if (body) return body.data;
        if (Date.now() > until) throw new Error('no job.input_required webhook arrived');
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    it('carry inputRequest.toolCalls', async () => {
      const hook = await webhookReceiver();
      try {
        await submit({ prompt: `[client] ${nonce()}`, tools }, { webhook: { url: hook.url } });
        const job = await inputRequired(hook.bodies);
        expect(job.inputRequest).toEqual({
          type: 'tool_calls',
          prompt: expect.any(String),
          toolCalls: [{ id: 'call_weather_1', name: 'get_weather', arguments: { city: 'Paris' } }],
        });
      } finally {
        await hook.close();
      }
    });

    it('name tool calls too large for a webhook body in omitted, keeping the request type', async () => {
      const hook = await webhookReceiver();
      try {
        const id = await submit({ prompt: `[client-big] ${nonce()}`, tools }, { webhook: { url: hook.url } });
        const job = await inputRequired(hook.bodies);
        expect(job).toMatchObject({ id, status: 'input_required', truncated: true });
        expect(job.omitted).toContain('inputRequest.toolCalls');
        expect(job.inputRequest).toEqual({ type: 'tool_calls', prompt: expect.any(String) });
        // The job itself carries them whole.
        const waiting = await api.get(id);
        expect(waiting.body.inputRequest.toolCalls[0].arguments).toEqual({
          city: 'Paris',
          notes: CLIENT_NOTES,
        });
      } finally {
        await hook.close();
      }
    });
  });

  it('keeps the answered calls of a failed attempt in usage across a redrive, adding the new ones', async () => {
    const id = await submit({ prompt: `[redrive ${pageUrl}] ${nonce()}`, serverTools: ['fetch_url'] });
    const failed = await api.waitForTerminal(id);
    expect(failed.body).toMatchObject({
      status: 'failed',
      error: { code: 'model_error' },
      usage: expectedUsage(1),
    });
    const until = Date.now() + 20_000;
    for (;;) {
      const lines: string[] = [];
      const { log, error } = console;
      console.log = console.error = (line: string) => lines.push(line);
      try {
        await main(['dlq', 'redrive', id, '--local', inject('dataDir')], {});
      } finally {
        Object.assign(console, { log, error });
      }
      if (lines.join('\n').includes('redriven as attempt 2')) break;
      if (Date.now() > until) throw new Error(`job ${id} never reached the job DLQ: ${lines.join(' ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Until the new attempt answers a call, the job shows what the first one used.
    expect((await api.get(id)).body.usage).toEqual(expectedUsage(1));
    const done = await api.waitForTerminal(id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      attempt: 2,
      result: { output: 'Fetched.', steps: 2 },
    });
    expect(done.body.usage).toEqual(expectedUsage(3));
  });
});
