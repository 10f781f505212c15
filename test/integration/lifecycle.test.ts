import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, inject, it } from 'vitest';
import { executionArn } from '../../lambdas/config/workflow.js';
import { apiFor, expectProblem } from './client.js';

const api = apiFor('lifecycle');

const input = (id: string, body: unknown) => api.call('POST', `/v1/jobs/${id}/input`, { body });

const TERMINAL_EVENTS = ['job.succeeded', 'job.failed', 'job.cancelled'];

/** The job's event log once its terminal event is in (the log follows the job item through the stream). */
async function finalEvents(id: string, timeoutMs = 20_000): Promise<{ type: string; data: unknown }[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.call('GET', `/v1/jobs/${id}/events?limit=1000`);
    const items = res.body.items as { type: string; data: unknown }[];
    if (TERMINAL_EVENTS.includes(items.at(-1)?.type ?? '')) return items;
    if (Date.now() > until) throw new Error(`job ${id} has no terminal event after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('human input', () => {
  it('waits in input_required with the prompt, then finishes with the answer', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'hi', steps: 3, stepMs: 10, askInput: 'Which colour?' },
    });
    const waiting = await api.waitForStatus(body.id, 'input_required');
    expect(waiting.body.inputRequest).toEqual({ type: 'question', prompt: 'Which colour?' });
    expect(waiting.body.progress.step).toBe(1);
    expect(JSON.stringify(waiting.body)).not.toContain('token');
    expect(Number(waiting.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const answered = await input(body.id, { input: { colour: 'blue' } });
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ status: 'running', inputRequest: null });

    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      result: { message: 'hi', steps: 3, input: { colour: 'blue' } },
    });
    const events = await finalEvents(body.id);
    expect(events.map((e) => e.type)).toEqual([
      'job.created',
      'job.running',
      'job.progress',
      'job.input_required',
      'job.running',
      'job.progress',
      'job.progress',
      'job.succeeded',
    ]);
    expect(events[3]?.data).toEqual({
      status: 'input_required',
      inputRequest: { type: 'question', prompt: 'Which colour?' },
    });
    expect(JSON.stringify(events)).not.toContain('local-task-token');
  });

  it('refuses an answer that does not match the schema with 400 and keeps waiting', async () => {
    const { body } = await api.create({ agent: 'approval', input: {} });
    const waiting = await api.waitForStatus(body.id, 'input_required');
    expect(waiting.body.inputRequest).toMatchObject({ prompt: 'Approve?', schema: { type: 'object' } });

    const bad = await input(body.id, { input: { approved: 'yes' } });
    expectProblem(bad, 400, 'invalid_input');
    expect(bad.body.errors).toEqual([{ path: 'input.approved', message: expect.any(String) }]);
    expectProblem(await input(body.id, {}), 400, 'validation_failed');
    expect((await api.get(body.id)).body.status).toBe('input_required');

    expect((await input(body.id, { input: { approved: true } })).status).toBe(200);
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({ status: 'succeeded', result: { answer: { approved: true } } });
  });

  it('answers 409 while the job is not waiting and after it finished, 404 for an unknown job', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'x', steps: 1, stepMs: 0 } });
    await api.waitForTerminal(body.id);
    expectProblem(await input(body.id, { input: 1 }), 409, 'job_terminal');

    const slow = await api.create({ agent: 'echo', input: { message: 'x', steps: 2, stepMs: 1500 } });
    await api.waitForStatus(slow.body.id, 'running');
    expectProblem(await input(slow.body.id, { input: 1 }), 409, 'invalid_transition');
    await api.cancel(slow.body.id);

    expectProblem(await input('job_00000000000000000000000000', { input: 1 }), 404, 'not_found');
  });

  it('fails the job with input_timeout when nobody answers in time', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 2, stepMs: 0, askInput: 'Anyone?' },
      inputTimeoutSeconds: 1,
    });
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({
      status: 'failed',
      inputRequest: null,
      error: { code: 'input_timeout', retryable: false },
    });
    expectProblem(await input(body.id, { input: 'late' }), 409, 'job_terminal');
  });

  it("fails with job_timeout when the job's own deadline comes first", async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 2, stepMs: 0, askInput: 'Anyone?' },
      timeoutSeconds: 2,
    });
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({ status: 'failed', error: { code: 'job_timeout' } });
  });

  it('refuses an inputTimeoutSeconds beyond the agent limit', async () => {
    const res = await api.create({
      agent: 'echo',
      input: { message: 'x', askInput: 'q' },
      inputTimeoutSeconds: 3_601,
    });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'inputTimeoutSeconds', message: expect.any(String) }]);
  });

  it('cancels a job while it waits for input', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 2, stepMs: 0, askInput: 'Wait' },
    });
    await api.waitForStatus(body.id, 'input_required');
    const cancelled = await api.cancel(body.id);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', inputRequest: null });
    expectProblem(await input(body.id, { input: 'too late' }), 409, 'job_terminal');
    const after = await api.waitForTerminal(body.id);
    expect(after.body.status).toBe('cancelled');
  });
});

describe('reconciliation', () => {
  const sfn = new SFNClient({
    endpoint: inject('sfnEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  it('fails a job whose execution an operator stopped, with execution_aborted', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'x', steps: 5, stepMs: 1000 } });
    await api.waitForStatus(body.id, 'running');
    await sfn.send(
      new StopExecutionCommand({
        executionArn: executionArn(inject('stateMachineArn'), body.id),
        error: 'Operator',
        cause: 'stopped by hand',
      }),
    );
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({
      status: 'failed',
      error: { code: 'execution_aborted', retryable: true },
    });
    const events = await finalEvents(body.id);
    expect(events.at(-1)?.type).toBe('job.failed');
  });

  it('leaves a cancelled job cancelled although its execution ends ABORTED', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'x', steps: 5, stepMs: 1000 } });
    await api.waitForStatus(body.id, 'running');
    await api.cancel(body.id);
    const events = await finalEvents(body.id);
    expect(events.map((e) => e.type).filter((t) => TERMINAL_EVENTS.includes(t))).toEqual(['job.cancelled']);
    expect((await api.get(body.id)).body.status).toBe('cancelled');
  });
});
