import { describe, expect, inject, it } from 'vitest';
import { main } from '../../bin/cli.js';
import { apiFor } from './client.js';

const api = apiFor('redrive');

/** Runs `agent-jobs <args> --local <dataDir>` and returns what it printed (errors included). */
async function cli(...args: string[]) {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = console.error = (line: string) => lines.push(line);
  try {
    const code = await main([...args, '--local', inject('dataDir')], {});
    return { code, output: lines.join('\n') };
  } finally {
    Object.assign(console, { log, error });
  }
}

async function events(id: string) {
  return (await api.call('GET', `/v1/jobs/${id}/events?limit=1000`)).body.items as {
    type: string;
    data: Record<string, unknown>;
  }[];
}

describe('operator redrive of a failed job', () => {
  it('lists the job in the DLQ with its reason, redrives it as attempt 2 and keeps its history', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'again', steps: 2, stepMs: 0, askInput: 'Ready?' },
      inputTimeoutSeconds: 1,
    });
    const failed = await api.waitForTerminal(body.id);
    expect(failed.body).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'input_timeout' } });

    // The workflow sends the failed job to the job DLQ as its last state before JobFailed.
    const until = Date.now() + 20_000;
    let listed = await cli('dlq', 'list');
    while (!listed.output.includes(body.id) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      listed = await cli('dlq', 'list');
    }
    expect(listed.code).toBe(0);
    expect(listed.output).toMatch(new RegExp(`${body.id}\\s+tenant redrive\\s+input_timeout`));
    const shown = await cli('dlq', 'show', body.id);
    expect(shown.output).toContain('"code": "input_timeout"');

    const redriven = await cli('dlq', 'redrive', body.id);
    expect(redriven).toEqual({
      code: 0,
      output: `${body.id}: redriven as attempt 2 (execution ${body.id}-r2)`,
    });

    const waiting = await api.waitForStatus(body.id, 'input_required');
    expect(waiting.body).toMatchObject({ attempt: 2, error: null, completedAt: null });
    expect((await api.call('POST', `/v1/jobs/${body.id}/input`, { body: { input: 'yes' } })).status).toBe(
      200,
    );
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({
      status: 'succeeded',
      attempt: 2,
      result: { message: 'again', steps: 2, input: 'yes' },
    });

    expect((await cli('dlq', 'list')).output).not.toContain(body.id);
    const log = await events(body.id);
    const types = log.map((e) => e.type);
    expect(types.slice(0, types.indexOf('job.redriven') + 1)).toEqual([
      'job.created',
      'job.running',
      'job.progress',
      'job.input_required',
      'job.failed',
      'job.redriven',
    ]);
    expect(log.find((e) => e.type === 'job.redriven')?.data).toEqual({ status: 'pending', attempt: 2 });
  });

  it('refuses to redrive a job that is not failed', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'ok', steps: 1, stepMs: 0 } });
    await api.waitForTerminal(body.id);
    const res = await cli('dlq', 'redrive', body.id);
    expect(res).toEqual({ code: 0, output: `${body.id}: no message in the job DLQ, nothing redriven` });
    expect((await api.get(body.id)).body).toMatchObject({ status: 'succeeded', attempt: 1 });
  });
});
