import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webhookSecretMain } from '../../../bin/webhook-secrets-cli.js';
import {
  FileWebhookSecrets,
  LOCAL_WEBHOOK_SECRETS_FILE,
} from '../../../lambdas/local/file-webhook-secrets.js';

const T0 = new Date('2026-03-01T12:00:00.000Z');

describe('agent-jobs webhook-secret', () => {
  let dataDir: string;
  let out: string[];
  let err: string[];

  const run = (...args: string[]) =>
    webhookSecretMain(
      args,
      {},
      (line) => out.push(line),
      (line) => err.push(line),
      () => T0,
    );

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'webhook-secret-cli-'));
    out = [];
    err = [];
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows the tenant’s current secret from the local stack’s file', async () => {
    const store = new FileWebhookSecrets(join(dataDir, LOCAL_WEBHOOK_SECRETS_FILE));
    const current = await store.current('dev');
    expect(await run('show', '--tenant', 'dev', '--local', dataDir)).toBe(0);
    expect(out).toContain(current);
    expect(out.join('\n')).toMatch(/no previous secret is signed with/);
  });

  it('rotates, printing the new secret and until when the old one is signed with', async () => {
    const store = new FileWebhookSecrets(join(dataDir, LOCAL_WEBHOOK_SECRETS_FILE));
    const old = await store.current('dev');
    expect(await run('rotate', '--tenant', 'dev', '--overlap-hours', '2', '--local', dataDir)).toBe(0);
    const fresh = await store.current('dev');
    expect(fresh).not.toBe(old);
    expect(out).toContain(fresh);
    expect(out.join('\n')).toContain('until 2026-03-01T14:00:00.000Z');
    expect(await store.signingSecrets('dev', T0)).toEqual([fresh, old]);

    out = [];
    expect(await run('show', '--tenant', 'dev', '--local', dataDir)).toBe(0);
    expect(out).toContain(fresh);
    expect(out.join('\n')).toContain('a previous secret is also signed with until 2026-03-01T14:00:00.000Z');
    expect(out.join('\n')).not.toContain(old);
  });

  it.each([
    [['show'], /--tenant is required/],
    [['list', '--tenant', 'dev'], /usage: agent-jobs webhook-secret/],
    [['show', '--tenant', 'dev'], /--secrets-prefix or AGENT_JOBS_WEBHOOK_SECRETS_PREFIX is required/],
    [['rotate', '--tenant', 'dev', '--overlap-hours', 'soon', '--local'], /--overlap-hours must be/],
    [['show', '--tenant', 'dev', '--local', '.data', 'extra'], /unexpected extra/],
  ])('answers %j with usage', async (args, message) => {
    expect(await run(...args)).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });

  it('reports a refused overlap as a failure', async () => {
    expect(await run('rotate', '--tenant', 'dev', '--overlap-hours', '0.01', '--local', dataDir)).toBe(1);
    expect(err.join('\n')).toMatch(/overlap must be whole seconds from 300/);
  });
});
