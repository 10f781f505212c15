import { describe, expect, inject, it } from 'vitest';
import { tenantsMain } from '../../bin/tenants-cli.js';
import { BUILT_IN_LIMITS } from '../../lambdas/domain/tenant-limits.js';
import { apiFor, expectProblem } from './client.js';
import { USAGE } from './model-scenarios.js';
import { runOperatorCli } from '../fixtures/operator-cli.js';

const dataDir = inject('dataDir');
const nonce = () => Math.random().toString(36).slice(2);
const DAY_MS = 86_400_000;
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);

/** Runs the operator CLI against the test stack, as `npx agent-jobs tenants ... --local <dataDir>` would. */
const tenantsCli = (...args: string[]) => runOperatorCli(tenantsMain, dataDir, ...args);

type LoggedEvent = { seq: number; type: string; at: string; data: Record<string, unknown> };

async function submit(api: ReturnType<typeof apiFor>, body: Record<string, unknown>) {
  const res = await api.create(body);
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function eventsOf(api: ReturnType<typeof apiFor>, id: string): Promise<LoggedEvent[]> {
  const res = await api.call('GET', `/v1/jobs/${id}/events?limit=1000`);
  expect(res.status).toBe(200);
  return res.body.items as LoggedEvent[];
}

/** The days around today summed: a run that crosses midnight UTC splits its counts over two days. */
function summed(items: Record<string, number | null>[]) {
  const sum = (key: string) => items.reduce((n, d) => n + (d[key] as number), 0);
  return {
    jobs: sum('jobs'),
    modelCalls: sum('modelCalls'),
    inputTokens: sum('inputTokens'),
    outputTokens: sum('outputTokens'),
    costUsd: items.some((d) => d.costUsd === null) ? null : Number(sum('costUsd').toFixed(9)),
  };
}

describe('GET /v1/usage and tenants usage over the local stack', () => {
  const api = apiFor('usage');
  const range = `from=${day(-1)}&to=${day(1)}`;

  it('counts each job and answered model call once, with tokens and list-price cost', async () => {
    const empty = await api.call('GET', `/v1/usage?${range}`);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ items: [], limits: BUILT_IN_LIMITS });

    const priced = await submit(api, {
      agent: 'assistant',
      input: { prompt: `[plain] ${nonce()}`, model: 'gpt-4o-mini' },
    });
    expect((await api.waitForTerminal(priced)).body.status).toBe('succeeded');
    const echo = await submit(api, { agent: 'echo', input: { message: 'hi', steps: 2 } });
    expect((await api.waitForTerminal(echo)).body.status).toBe('succeeded');
    const first = await api.call('GET', `/v1/usage?${range}`);
    expect(first.status).toBe(200);
    // gpt-4o-mini: 0.15 and 0.60 dollars per million input and output tokens.
    expect(summed(first.body.items)).toEqual({
      jobs: 2,
      modelCalls: 1,
      inputTokens: USAGE.prompt_tokens,
      outputTokens: USAGE.completion_tokens,
      costUsd: (USAGE.prompt_tokens * 0.15 + USAGE.completion_tokens * 0.6) / 1e6,
    });
    expect(first.body.items[0]).toEqual({
      date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      jobs: expect.any(Number),
      modelCalls: expect.any(Number),
      inputTokens: expect.any(Number),
      outputTokens: expect.any(Number),
      costUsd: expect.any(Number),
    });

    // The scripted model has no price: the day's cost is unknown from then on.
    const unpriced = await submit(api, { agent: 'assistant', input: { prompt: `[plain] ${nonce()}` } });
    expect((await api.waitForTerminal(unpriced)).body.status).toBe('succeeded');
    const second = await api.call('GET', `/v1/usage?${range}`);
    expect(summed(second.body.items)).toEqual({
      jobs: 3,
      modelCalls: 2,
      inputTokens: 2 * USAGE.prompt_tokens,
      outputTokens: 2 * USAGE.completion_tokens,
      costUsd: null,
    });

    const shown = await tenantsCli('usage', 'usage', '--from', day(-1), '--to', day(1), '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out[0]!)).toEqual({
      tenant: 'usage',
      from: day(-1),
      to: day(1),
      items: second.body.items,
      limits: BUILT_IN_LIMITS,
    });
    // Another tenant's usage is its own.
    expect((await apiFor('tokens').call('GET', `/v1/usage?${range}`)).body.items).toEqual([]);
  });

  it.each([
    ['from=2026-12-05&to=2026-12-01'],
    ['from=2026-01-01&to=2026-04-03'],
    ['from=yesterday'],
    ['tenant=other'],
  ])('answers ?%s with a 400 validation problem', async (query) => {
    expectProblem(await api.call('GET', `/v1/usage?${query}`), 400, 'validation_failed');
  });
});

describe('the token budget over the local stack', () => {
  const api = apiFor('tokens');

  it("delays a model call over the tenant's tokensPerMinute instead of failing the job", async () => {
    // 90 tokens a minute, 2/3 s per token. A call asks for more output than that, so it reserves the
    // whole minute: the second job's call waits until the 18 tokens the first one used (as the
    // scripted model reports them) have refilled, about 12 s after the first call.
    const set = await tenantsCli('set-limits', 'tokens', '--tokens-per-minute', '90');
    expect(set.code).toBe(0);
    const input = () => ({ prompt: `[plain] ${nonce()}`, maxOutputTokens: 300 });
    const first = await submit(api, { agent: 'assistant', input: input() });
    const one = await api.waitForTerminal(first);
    const second = await submit(api, { agent: 'assistant', input: input() });
    const two = await api.waitForTerminal(second, 90_000);
    expect(one.body).toMatchObject({ status: 'succeeded', usage: { modelCalls: 1 } });
    expect(two.body).toMatchObject({ status: 'succeeded', usage: { modelCalls: 1 } });

    // The event log is appended from the table's stream, a moment after the job's own last write.
    await expect
      .poll(async () => (await eventsOf(api, second)).map((e) => e.type))
      .toContain('job.succeeded');
    const waited = (await eventsOf(api, second)).filter(
      (e) => e.type === 'job.progress' && String(e.data.message).startsWith('waiting for the token budget'),
    );
    expect(waited.length).toBeGreaterThanOrEqual(1);
    expect(waited[0]!.data.message).toMatch(
      /^waiting for the token budget \(90 tokens per minute\); model call 1 in \d+ s$/,
    );
    expect((await eventsOf(api, first)).some((e) => String(e.data.message).startsWith('waiting'))).toBe(
      false,
    );
    // The second call was made only once the wait the step announced was over.
    const waitSeconds = Number(/in (\d+) s$/.exec(String(waited[0]!.data.message))![1]);
    const secondDeltas = (await eventsOf(api, second)).filter((e) => e.type === 'job.output.delta');
    expect(Date.parse(secondDeltas[0]!.at) - Date.parse(waited[0]!.at)).toBeGreaterThanOrEqual(
      waitSeconds * 1000,
    );
  }, 120_000);
});
