import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ReceivedRequest,
  type ScriptedReply,
  ScriptedModelServer,
} from '../fixtures/scripted-model-server.js';
import {
  removeLocalStackData,
  startLocalStackProcess,
  stopLocalStackProcess,
} from '../fixtures/local-stack-process.js';

const API_KEY = `ak_assistant_crash_${Date.now().toString(36)}`;
const MODEL = 'scripted-model';
const USAGE = { prompt_tokens: 13, completion_tokens: 5 };
/** Server tool calls the model makes, one per model call, before its final answer. */
const TOOL_CALLS = 3;
/** The model call that hangs, mid-stream, until the stack is killed: after two tool calls have run. */
const HUNG_CALL = 3;
/** What the hung call streams before it goes silent. */
const HUNG_TEXT = ['Half ', 'way'];

/** Counts what reaches it: each server tool call's fetch, by path. Outside the group the crash kills. */
async function startToolTarget() {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`result of ${path}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

/**
 * Model call n (n tool results in its messages, plus one) asks for tool call `call_<n>` until
 * TOOL_CALLS ran, then answers. The first request of HUNG_CALL streams HUNG_TEXT and then never
 * ends: the test kills the stack once that text is in the job's log. Every answer the server sent
 * whole counts as answered.
 */
function loopScript(target: string) {
  const state = { answered: 0, hung: false, onHang: () => {} };
  const script = (request: ReceivedRequest): ScriptedReply => {
    const messages = (request.body?.messages ?? []) as { role: string }[];
    const call = messages.filter((m) => m.role === 'tool').length + 1;
    if (call === HUNG_CALL && !state.hung) {
      state.hung = true;
      state.onHang();
      // The role chunk, then the text chunks, then silence.
      return { kind: 'answer', text: HUNG_TEXT, stallAfterChunks: 1 + HUNG_TEXT.length };
    }
    state.answered++;
    if (call > TOOL_CALLS) return { kind: 'answer', text: ['All ', 'tools ', 'ran.'], usage: USAGE };
    const id = `call_${call}`;
    return {
      kind: 'answer',
      text: [`Calling `, `tool ${call}.`],
      toolCalls: [{ id, name: 'fetch_url', arguments: { url: `${target}/tools/${id}` } }],
      usage: USAGE,
    };
  };
  return { state, script };
}

interface Job {
  status: string;
  result: unknown;
  usage: unknown;
}

interface LoggedEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

async function events(url: string, id: string): Promise<LoggedEvent[]> {
  const res = await fetch(`${url}/v1/jobs/${id}/events?limit=1000`, { headers });
  return ((await res.json()) as { items: LoggedEvent[] }).items;
}

describe('kill -9 of the local stack while an assistant job is mid-loop', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('finishes the job with each tool call run once, each answered call counted once and no tool_call event or text twice', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-assistant-crash-'));
    cleanup.push(() => removeLocalStackData(dataDir));
    const target = await startToolTarget();
    cleanup.push(() => new Promise((resolve) => target.server.close(resolve)));
    const { state, script } = loopScript(target.url);
    const model = await new ScriptedModelServer({ script, models: [MODEL] }).start();
    cleanup.push(() => model.close());
    const hung = new Promise<void>((resolve) => (state.onHang = resolve));
    const env = {
      AGENT_JOBS_API_KEY: API_KEY,
      AGENT_JOBS_OPENAI_BASE_URL: model.baseUrl,
      AGENT_JOBS_MODEL: MODEL,
    };
    const running: ChildProcess[] = [];
    cleanup.push(async () => {
      for (const child of running) await stopLocalStackProcess(child);
    });

    const first = await startLocalStackProcess(dataDir, env);
    running.push(first.child);
    const created = await fetch(`${first.url}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        agent: 'assistant',
        input: { prompt: 'Run the tools.', serverTools: ['fetch_url'] },
      }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    await hung;
    // Two tool calls ran and were recorded before model call 3 was made; the third is still to come.
    expect([...target.hits.keys()].sort()).toEqual(['/tools/call_1', '/tools/call_2']);
    // Killed once the hung call's text reached the log: its retry after the restart streams again.
    await expect
      .poll(
        async () =>
          (await events(first.url, id)).some(
            (e) => e.type === 'job.output.delta' && e.data.step === HUNG_CALL,
          ),
        {
          timeout: 20_000,
          interval: 100,
        },
      )
      .toBe(true);
    await stopLocalStackProcess(first.child, 'SIGKILL');

    const second = await startLocalStackProcess(dataDir, env);
    running.push(second.child);
    const get = async () => (await (await fetch(`${second.url}/v1/jobs/${id}`, { headers })).json()) as Job;
    await expect
      .poll(async () => (await get()).status, { timeout: 120_000, interval: 200 })
      .toBe('succeeded');
    const job = await get();

    expect(job.result).toEqual({ output: 'All tools ran.', finishReason: 'stop', steps: TOOL_CALLS + 1 });
    // Each tool call id reached its target exactly once, across the crash.
    expect(Object.fromEntries(target.hits)).toEqual({
      '/tools/call_1': 1,
      '/tools/call_2': 1,
      '/tools/call_3': 1,
    });
    // Usage is the sum of the calls the model answered (the hung call got no answer), each once.
    expect(state.answered).toBe(TOOL_CALLS + 1);
    expect(job.usage).toEqual({
      inputTokens: USAGE.prompt_tokens * state.answered,
      outputTokens: USAGE.completion_tokens * state.answered,
      totalTokens: (USAGE.prompt_tokens + USAGE.completion_tokens) * state.answered,
      modelCalls: state.answered,
      costUsd: null,
    });

    // The log: one job.tool_call per tool call, and each step's text is its answered call's.
    let log: LoggedEvent[] = [];
    await expect
      .poll(
        async () => {
          log = await events(second.url, id);
          return log.some((e) => e.type === 'job.succeeded');
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(true);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    const toolCalls = log.filter((e) => e.type === 'job.tool_call').map((e) => e.data.id);
    expect(toolCalls).toEqual(['call_1', 'call_2', 'call_3']);
    const texts = new Map<number, string>();
    for (const e of log) {
      const step = e.data.step as number;
      if (e.type === 'job.output.reset') texts.delete(step);
      if (e.type === 'job.output.delta') texts.set(step, (texts.get(step) ?? '') + (e.data.text as string));
    }
    expect(log.filter((e) => e.type === 'job.output.reset').map((e) => e.data)).toEqual([
      { step: HUNG_CALL },
    ]);
    expect(texts).toEqual(
      new Map([
        [1, 'Calling tool 1.'],
        [2, 'Calling tool 2.'],
        [3, 'Calling tool 3.'],
        [4, 'All tools ran.'],
      ]),
    );
  }, 300_000);
});
