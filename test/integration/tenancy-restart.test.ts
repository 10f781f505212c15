import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keysMain } from '../../bin/keys-cli.js';
import { tenantsMain } from '../../bin/tenants-cli.js';
import {
  removeLocalStackData,
  startLocalStackProcess,
  stopLocalStackProcess as stop,
} from '../fixtures/local-stack-process.js';
import { runOperatorCli } from '../fixtures/operator-cli.js';

const DEV_KEY = `ak_restart_${Date.now().toString(36)}`;

const startLocal = (dataDir: string) => startLocalStackProcess(dataDir, { AGENT_JOBS_API_KEY: DEV_KEY });

const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-tenancy-restart-'));
let running: ChildProcess | undefined;
afterAll(async () => {
  if (running) await stop(running);
  await removeLocalStackData(dataDir);
});

describe('tenancy state across a restart of the local stack', () => {
  it('keeps limits (request rate, running and queued jobs), and keeps a revoked seeded key revoked', async () => {
    const first = await startLocal(dataDir);
    running = first.child;
    expect(
      (await runOperatorCli(tenantsMain, dataDir, 'set-limits', 'dev', '--requests-per-minute', '2')).code,
    ).toBe(0);
    const slotsLimits = ['--max-running-jobs', '1', '--max-queued-jobs', '1'];
    expect((await runOperatorCli(tenantsMain, dataDir, 'set-limits', 'slots', ...slotsLimits)).code).toBe(0);
    const extra = JSON.parse(
      (await runOperatorCli(keysMain, dataDir, 'create', '--tenant', 'other', '--json')).out[0]!,
    ) as {
      keyId: string;
      key: string;
    };
    expect((await runOperatorCli(keysMain, dataDir, 'revoke', extra.keyId)).code).toBe(0);
    const listed = JSON.parse(
      (await runOperatorCli(keysMain, dataDir, 'list', '--tenant', 'dev', '--json')).out[0]!,
    ) as {
      items: { keyId: string }[];
    };
    const devKeyId = listed.items[0]!.keyId;
    expect((await runOperatorCli(keysMain, dataDir, 'revoke', devKeyId)).code).toBe(0);
    await stop(first.child);

    // The dev key is seeded again from AGENT_JOBS_API_KEY at this start, and must stay revoked.
    const second = await startLocal(dataDir);
    running = second.child;
    const shown = JSON.parse(
      (await runOperatorCli(tenantsMain, dataDir, 'show', 'dev', '--json')).out[0]!,
    ) as {
      limits: { requestsPerMinute: number };
    };
    expect(shown.limits.requestsPerMinute).toBe(2);
    const revoked = await fetch(`${second.url}/v1/jobs`, { headers: { authorization: `Bearer ${DEV_KEY}` } });
    expect(revoked.status).toBe(401);
    expect(
      (await fetch(`${second.url}/v1/jobs`, { headers: { authorization: `Bearer ${extra.key}` } })).status,
    ).toBe(401);

    // A key made now for dev is limited by the limit set before the restart.
    const fresh = JSON.parse(
      (await runOperatorCli(keysMain, dataDir, 'create', '--tenant', 'dev', '--json')).out[0]!,
    ) as { key: string };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${second.url}/v1/jobs`, { headers: { authorization: `Bearer ${fresh.key}` } });
      statuses.push(res.status);
      if (i === 0) expect(res.headers.get('ratelimit-policy')).toBe('"requests";q=2;w=60');
    }
    expect(statuses).toEqual([200, 200, 429]);

    // Running and queued bounds set before the restart hold after it: one running, one queued, no more.
    const slots = JSON.parse(
      (await runOperatorCli(keysMain, dataDir, 'create', '--tenant', 'slots', '--json')).out[0]!,
    ) as { key: string };
    const submit = (stepMs: number) =>
      fetch(`${second.url}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slots.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'echo', input: { message: 'after restart', steps: 1, stepMs } }),
      });
    const get = async (id: string) =>
      (await (
        await fetch(`${second.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${slots.key}` } })
      ).json()) as { status: string; queue?: { position: number } };
    const longJob = (await (await submit(30_000)).json()) as { id: string };
    for (let i = 0; (await get(longJob.id)).status !== 'running'; i++) {
      if (i > 200) throw new Error('the first job never ran');
      await new Promise((r) => setTimeout(r, 50));
    }
    const waiting = (await (await submit(0)).json()) as { id: string };
    expect(await get(waiting.id)).toMatchObject({ status: 'pending', queue: { position: 1 } });
    const refused = await submit(0);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { code: string }).code).toBe('quota_exceeded');
    for (const id of [waiting.id, longJob.id]) {
      await fetch(`${second.url}/v1/jobs/${id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slots.key}` },
      });
    }
  }, 180_000);
});
