import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { apiFor } from './client.js';

const api = apiFor('job-cli');
const BIN = fileURLToPath(new URL('../../bin/agent-jobs.mjs', import.meta.url));

/**
 * Runs `npx agent-jobs ...` as a user would (stdout is a pipe, so output is JSON). `interrupt`
 * sends Ctrl-C once it returns true for the output so far.
 */
function cli(args: string[], interrupt?: (stdout: string, stderr: string) => boolean) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, AGENT_JOBS_URL: inject('apiUrl'), AGENT_JOBS_API_KEY: api.key },
  });
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  const check = () => {
    if (interrupt && !interrupted && interrupt(stdout, stderr)) {
      interrupted = true;
      child.kill('SIGINT');
    }
  };
  child.stdout.on('data', (d: Buffer) => ((stdout += d), check()));
  child.stderr.on('data', (d: Buffer) => ((stderr += d), check()));
  return {
    child,

    done: new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    ),
  };
}

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('agent-jobs run', () => {
  it('--wait exits 0 when the job succeeds and prints the final job', async () => {
    const { code, stdout } = await cli([
      'run',
      'echo',
      '--input',
      '{"message":"cli","steps":2,"stepMs":10}',
      '--wait',
    ]).done;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'succeeded', result: { message: 'cli', steps: 2 } });
  });

  it('--wait exits 1 when the job fails; the input can come from a file', async () => {
    const file = join(tmpdir(), `agent-jobs-cli-${process.pid}.json`);
    await writeFile(file, JSON.stringify({ message: 'x', steps: 3, stepMs: 0, failAtStep: 2 }));
    const { code, stdout } = await cli(['run', 'echo', '--input', `@${file}`, '--wait', '--json']).done;
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'failed', error: { code: 'agent_error' } });
  });

  it('--timeout exits 3 and leaves the job running', async () => {
    const { code, stdout, stderr } = await cli([
      'run',
      'echo',
      '--input',
      '{"message":"long","steps":3,"stepMs":1500}',
      '--wait',
      '--timeout',
      '1',
    ]).done;
    expect(code).toBe(3);
    const { id } = JSON.parse(stdout);
    expect(stderr).toContain(`agent-jobs jobs watch ${id}`);
    expect((await api.get(id)).body.status).not.toBe('cancelled');
    expect((await api.waitForTerminal(id)).body.status).toBe('succeeded');
  });

  it('Ctrl-C stops following the job without cancelling it, and says how to resume', async () => {
    const id = (await api.create({ agent: 'echo', input: { message: 'c', steps: 3, stepMs: 1500 } })).body.id;
    // Interrupt once the CLI is up and following the job.
    const run = cli(['jobs', 'watch', id], (stdout) => stdout.includes('"job.running"'));
    const { code, stderr } = await run.done;
    expect(code).toBe(130);
    expect(stderr).toMatch(new RegExp(`agent-jobs jobs watch ${id} --after \\d+`));
    expect((await api.waitForTerminal(id)).body.status).toBe('succeeded');
  });
});

describe('agent-jobs jobs', () => {
  it('watch prints every event once, in order, across stream ends, and exits with the outcome', async () => {
    const id = (await api.create({ agent: 'echo', input: { message: 'w', steps: 6, stepMs: 700 } })).body.id;
    const { code, stdout } = await cli(['jobs', 'watch', id]).done;
    expect(code).toBe(0);
    const events = lines(stdout);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'job.succeeded' });
  });

  it('watch --after resumes after the events already seen', async () => {
    const id = (await api.create({ agent: 'echo', input: { message: 'w', steps: 2, stepMs: 0 } })).body.id;
    await api.waitForTerminal(id);
    const { code, stdout } = await cli(['jobs', 'watch', id, '--after', '3']).done;
    expect(code).toBe(0);
    expect(lines(stdout).map((e) => e.seq)).toEqual([4, 5]);
  });

  it('answer resumes a job waiting for input; get and list show it', async () => {
    const run = await cli([
      'run',
      'echo',
      '--input',
      '{"message":"a","steps":2,"stepMs":0,"askInput":"Colour?"}',
    ]).done;
    expect(run.code).toBe(0);
    const { id } = JSON.parse(run.stdout);
    await api.waitForStatus(id, 'input_required');

    const answered = await cli(['jobs', 'answer', id, '--input', '{"colour":"blue"}']).done;
    expect(answered.code).toBe(0);
    expect(JSON.parse(answered.stdout)).toMatchObject({ id, status: 'running' });
    await api.waitForTerminal(id);

    const got = await cli(['jobs', 'get', id]).done;
    expect(JSON.parse(got.stdout)).toMatchObject({
      status: 'succeeded',
      result: { input: { colour: 'blue' } },
    });
    const listed = await cli(['jobs', 'list', '--status', 'succeeded', '--limit', '100']).done;
    expect(listed.code).toBe(0);
    expect(lines(listed.stdout).map((j) => j.id)).toContain(id);
  });

  it('cancel cancels; a bad flag is a usage error (2); an API problem exits 1 with its code', async () => {
    const id = (await api.create({ agent: 'echo', input: { message: 'x', steps: 3, stepMs: 2000 } })).body.id;
    const cancelled = await cli(['jobs', 'cancel', id]).done;
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id, status: 'cancelled' });
    expect((await cli(['run', 'echo', '--input', 'not json']).done).code).toBe(2);
    const unknown = await cli(['run', 'nope', '--input', '{}']).done;
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown_agent');
  });
});
