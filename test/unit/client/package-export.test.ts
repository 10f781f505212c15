import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeApi, job, reply } from './fake-api.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('agent-jobs/client', () => {
  // What `npm ci` builds through the prepare script; built again here so the test sees this source.
  beforeAll(async () => {
    await run('npm', ['run', '-s', 'build:client'], { cwd: root });
  }, 120_000);

  it('is importable from plain Node ESM by the package name, and works', async () => {
    const done = job({ status: 'succeeded' });
    const api = await fakeApi((req, res) => reply(res, req.method === 'POST' ? 202 : 200, done));
    const { stdout } = await run(
      process.execPath,
      [fileURLToPath(new URL('fixtures/import-client.mjs', import.meta.url))],
      {
        cwd: root,
        env: { ...process.env, API_URL: api.url },
      },
    );
    expect(JSON.parse(stdout)).toEqual({
      id: done.id,
      status: 'succeeded',
      problemError: 'function',
      verifyWebhook: 'function',
    });
    expect(api.seen[0]).toMatchObject({ method: 'POST', path: '/v1/jobs' });
    expect(api.seen[0]!.headers.authorization).toBe('Bearer ak_plain');
  });
});
