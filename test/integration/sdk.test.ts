import { describe, expect, inject, it } from 'vitest';
import { AgentJobsClient, type JobEvent, ProblemError } from '../../client/src/index.js';
import { apiFor } from './client.js';

const api = apiFor('sdk');

/** The client as an application builds it, recording each answer's status on the way. */
function sdk() {
  const answers: Array<{ method: string; path: string; status: number }> = [];
  const client = new AgentJobsClient({
    baseUrl: inject('apiUrl'),
    apiKey: api.key,
    fetch: async (request) => {
      const response = await fetch(request);
      answers.push({ method: request.method, path: new URL(request.url).pathname, status: response.status });
      return response;
    },
  });
  return { client, answers };
}

describe('the client against the local stack', () => {
  it('creates a job, waits for it, and gets the terminal job', async () => {
    const { client } = sdk();
    const handle = await client.createJob({ agent: 'echo', input: { message: 'hi', steps: 2, stepMs: 50 } });
    expect(handle.job).toMatchObject({ id: handle.id, status: 'pending' });
    const job = await handle.wait({ timeoutMs: 30_000 });
    expect(job).toMatchObject({ status: 'succeeded', result: { message: 'hi', steps: 2, input: null } });
    expect(job).toEqual((await api.get(handle.id)).body);
  });

  it('polls with If-None-Match: an unchanged job answers 304, and the client keeps the job', async () => {
    const { client, answers } = sdk();
    const handle = await client.createJob({
      agent: 'echo',
      input: { message: 'slow', steps: 2, stepMs: 5_000 },
    });
    // Past its start, the job stays as it is for the 5 s of its first step.
    await expect
      .poll(async () => ((await api.get(handle.id)).body as { status: string }).status, { timeout: 10_000 })
      .toBe('running');
    const first = await handle.get();
    const second = await handle.get();
    expect(second).toEqual(first);
    expect(answers.filter((a) => a.method === 'GET').map((a) => a.status)).toEqual([200, 304]);
    await handle.cancel();
  });

  it('follows the events across the stream ends, each once and in order, to the terminal one', async () => {
    const { client, answers } = sdk();
    // Longer than the 3 s streams of the test stack: the client has to reconnect.
    const handle = await client.createJob({ agent: 'echo', input: { message: 'e', steps: 8, stepMs: 600 } });
    const events: JobEvent[] = [];
    for await (const event of handle.events()) events.push(event);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual([
      'job.created',
      'job.running',
      ...Array(8).fill('job.progress'),
      'job.succeeded',
    ]);
    expect(answers.filter((a) => a.path.endsWith('/stream')).length).toBeGreaterThan(1);
    // The terminal event carries the job, which the handle keeps.
    expect(handle.job).toMatchObject({ status: 'succeeded' });
  });

  it('answers a job waiting for input, which then finishes with the answer', async () => {
    const { client } = sdk();
    const handle = await client.createJob({
      agent: 'echo',
      input: { message: 'q', steps: 2, stepMs: 0, askInput: 'Which colour?' },
    });
    for await (const event of handle.events()) if (event.type === 'job.input_required') break;
    const running = await handle.answer({ colour: 'blue' });
    expect(running.status).toBe('running');
    const done = await handle.wait({ timeoutMs: 30_000 });
    expect(done.result).toEqual({ message: 'q', steps: 2, input: { colour: 'blue' } });
  });

  it('runs many jobs with a concurrency limit; results in input order, a failure in its own entry', async () => {
    const { client } = sdk();
    const inputs = [1, 2, 3, 4, 5].map((n) => ({
      agent: 'echo',
      input: { message: `m${n}`, steps: 2, stepMs: 10 * (6 - n), ...(n === 3 ? { failAtStep: 1 } : {}) },
    }));
    const results = await client.runMany([...inputs, { agent: 'nope', input: {} }], { concurrency: 2 });
    expect(
      results.map((r) => (r.ok ? [r.job.status, (r.job.input as { message: string }).message] : r.ok)),
    ).toEqual([
      ['succeeded', 'm1'],
      ['succeeded', 'm2'],
      ['failed', 'm3'],
      ['succeeded', 'm4'],
      ['succeeded', 'm5'],
      false,
    ]);
    const last = results[5]!;
    expect(!last.ok && last.error).toBeInstanceOf(ProblemError);
    expect(!last.ok && last.error).toMatchObject({ status: 422, code: 'unknown_agent' });
  });

  it('lists the jobs across pages, newest first', async () => {
    const { client } = sdk();
    const created = [];
    for (let i = 0; i < 3; i++)
      created.push((await client.createJob({ agent: 'echo', input: { message: 'l' } })).id);
    const listed = [];
    for await (const job of client.listJobs({ pageSize: 2 })) listed.push(job.id);
    expect(listed.slice(0, 3)).toEqual(created.reverse());
  });

  it('lists the agents and gets one; an unknown name is a 404 problem', async () => {
    const { client } = sdk();
    const agents = await client.listAgents();
    expect(agents.map((a) => a.name)).toEqual(expect.arrayContaining(['echo', 'assistant']));
    const echo = await client.getAgent('echo');
    expect(echo).toEqual(agents.find((a) => a.name === 'echo'));
    expect(echo).toMatchObject({ available: true, inputSchema: expect.objectContaining({ type: 'object' }) });
    const missing = await client.getAgent('no-such-agent').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ProblemError);
    expect((missing as ProblemError).status).toBe(404);
  });

  it("reports the tenant's usage of the day, the finished jobs counted, and rejects a bad range", async () => {
    const { client } = sdk();
    const today = new Date().toISOString().slice(0, 10);
    const before = (await client.usage({ from: today, to: today })).items[0]?.jobs ?? 0;
    const handle = await client.createJob({ agent: 'echo', input: { message: 'u', steps: 1, stepMs: 0 } });
    await handle.wait({ timeoutMs: 30_000 });
    const report = await client.usage({ from: today, to: today });
    expect(report.items).toEqual([expect.objectContaining({ date: today, modelCalls: 0, costUsd: 0 })]);
    expect(report.items[0]!.jobs).toBeGreaterThan(before);
    expect(report.limits).toMatchObject({
      requestsPerMinute: expect.any(Number),
      maxRunningJobs: expect.any(Number),
    });
    const bad = await client.usage({ from: today, to: '2020-01-01' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ProblemError);
    expect((bad as ProblemError).status).toBe(400);
  });

  it('GET /v1/jobs/{id} answers 304 with no body to If-None-Match with the current ETag', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'etag', steps: 1, stepMs: 0 } });
    const done = await api.waitForTerminal(body.id);
    const etag = done.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await api.call('GET', `/v1/jobs/${body.id}`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    expect(again.headers.get('etag')).toBe(etag);
  });
});
