import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TenantSecrets } from '../../../lambdas/adapters/webhook-secrets.js';
import {
  generateWebhookSecret,
  SecretsManagerWebhookSecrets,
  WebhookSecretError,
  webhookSecretsFromEnv,
} from '../../../lambdas/adapters/webhook-secrets.js';
import { ConfigError } from '../../../lambdas/config/env.js';
import { FileWebhookSecrets } from '../../../lambdas/local/file-webhook-secrets.js';
import { webhookSecretProblem } from '../../../lambdas/domain/webhook.js';

const PREFIX = 'agent-jobs/webhooks/';
const T0 = new Date('2026-03-01T12:00:00.000Z');
const after = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });
const exists = () => new ResourceExistsException({ message: 'exists', $metadata: {} });
const stored = (secrets: TenantSecrets) => ({ SecretString: JSON.stringify(secrets) });

describe('generateWebhookSecret', () => {
  it('makes distinct whsec_ secrets that standardwebhooks accepts', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()];
    expect(a).not.toBe(b);
    expect(webhookSecretProblem(a)).toBeUndefined();
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(() => new Webhook(a).sign('msg_1', new Date(), '{}')).not.toThrow();
  });
});

describe('SecretsManagerWebhookSecrets', () => {
  // Mocks every client instance, the store's own included.
  const sm = mockClient(SecretsManagerClient);
  let store: SecretsManagerWebhookSecrets;

  beforeEach(() => {
    sm.reset();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    store = new SecretsManagerWebhookSecrets(PREFIX, new SecretsManagerClient({}), {
      kmsKeyId: 'alias/webhooks',
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('creates the tenant’s secret on first use, so the first webhook is signed', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({});
    const secrets = await store.signingSecrets('acme', T0);

    expect(secrets).toHaveLength(1);
    expect(webhookSecretProblem(secrets[0]!)).toBeUndefined();
    const create = sm.commandCalls(CreateSecretCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ Name: `${PREFIX}acme`, KmsKeyId: 'alias/webhooks' });
    expect(JSON.parse(create.SecretString!)).toEqual({ current: secrets[0], previous: [] });
    expect(await store.current('acme')).toBe(secrets[0]);
  });

  it('caches a tenant’s secrets for a minute', async () => {
    const current = generateWebhookSecret();
    sm.on(GetSecretValueCommand).resolves(stored({ current, previous: [] }));
    expect(await store.signingSecrets('acme', T0)).toEqual([current]);
    expect(await store.signingSecrets('acme', T0)).toEqual([current]);
    expect(await store.current('acme')).toBe(current);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);

    vi.setSystemTime(after(61));
    await store.signingSecrets('acme', after(61));
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one read among concurrent first deliveries', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({});
    const all = await Promise.all([1, 2, 3].map(() => store.signingSecrets('acme', T0)));
    expect(new Set(all.map((s) => s[0])).size).toBe(1);
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(1);
  });

  it('rotates: the old secret is signed with too until the overlap ends', async () => {
    const old = generateWebhookSecret();
    sm.on(GetSecretValueCommand).resolves(stored({ current: old, previous: [] }));
    sm.on(PutSecretValueCommand).resolves({});
    const fresh = await store.rotate('acme', 3600, T0);

    expect(fresh).not.toBe(old);
    const put = sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input;
    expect(put.SecretId).toBe(`${PREFIX}acme`);
    expect(JSON.parse(put.SecretString!)).toEqual({
      current: fresh,
      previous: [{ secret: old, expiresAt: after(3600).toISOString() }],
    });
    expect(await store.signingSecrets('acme', after(3599))).toEqual([fresh, old]);
    expect(await store.signingSecrets('acme', after(3600))).toEqual([fresh]);
  });

  it('drops expired previous secrets when rotating again', async () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()];
    sm.on(GetSecretValueCommand).resolves(
      stored({ current: a, previous: [{ secret: b, expiresAt: after(-1).toISOString() }] }),
    );
    sm.on(PutSecretValueCommand).resolves({});
    await store.rotate('acme', 600, T0);
    const put = JSON.parse(sm.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!);
    expect(put.previous).toEqual([{ secret: a, expiresAt: after(600).toISOString() }]);
  });

  it('refuses an overlap shorter than the cache could hide', async () => {
    await expect(store.rotate('acme', 60, T0)).rejects.toThrow(WebhookSecretError);
    expect(sm.calls()).toHaveLength(0);
  });

  it('reads the winner’s secret when another container created it first', async () => {
    const winner = generateWebhookSecret();
    sm.on(GetSecretValueCommand)
      .rejectsOnce(notFound())
      .resolves(stored({ current: winner, previous: [] }));
    sm.on(CreateSecretCommand).rejects(exists());
    expect(await store.signingSecrets('acme', T0)).toEqual([winner]);
  });

  it('fails with a sentence that never holds a stored value', async () => {
    const leaked = generateWebhookSecret().replace('whsec_', 'wh_');
    sm.on(GetSecretValueCommand).resolves(stored({ current: leaked, previous: [] }));
    const error = await store.signingSecrets('acme', T0).catch((e: Error) => e);
    expect(error).toBeInstanceOf(WebhookSecretError);
    expect((error as Error).message).toMatch(/does not hold valid webhook secrets \(at current\)/);
    expect((error as Error).message).not.toContain(leaked.slice(3, 20));
  });

  it('turns SDK failures into a WebhookSecretError naming the tenant', async () => {
    sm.on(GetSecretValueCommand).rejects(
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        message: 'denied',
        $fault: 'client',
        $metadata: {},
      }),
    );
    await expect(store.signingSecrets('acme', T0)).rejects.toThrow(
      'could not read the webhook secrets of tenant acme (AccessDeniedException)',
    );
  });

  it('refuses a tenant name that could address another secret', async () => {
    await expect(store.current('../other')).rejects.toThrow(/not a valid tenant name/);
    expect(sm.calls()).toHaveLength(0);
  });
});

describe('FileWebhookSecrets', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webhook-secrets-'));
    file = join(dir, 'nested', 'webhook-secrets.json');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a tenant’s secret on first use, in a file only its owner can read', async () => {
    const store = new FileWebhookSecrets(file);
    const [secret] = await store.signingSecrets('dev', T0);
    expect(webhookSecretProblem(secret!)).toBeUndefined();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await new FileWebhookSecrets(file).current('dev')).toBe(secret);
  });

  it('seeds the current secret from the environment, and fails loudly without quoting a bad one', async () => {
    const store = new FileWebhookSecrets(file);
    await store.current('dev');
    const seeded = generateWebhookSecret();
    await store.seed('dev', seeded);
    expect(await store.signingSecrets('dev', T0)).toEqual([seeded]);

    const bad = 'whsec_tooshort';
    const error = await store.seed('dev', bad).catch((e: Error) => e);
    expect(error).toBeInstanceOf(WebhookSecretError);
    expect((error as Error).message).toMatch(/webhook secret for tenant dev is not valid/);
    expect((error as Error).message).not.toContain('tooshort');
    expect(await store.current('dev')).toBe(seeded);
  });

  it('rotates with an overlap that ends', async () => {
    const store = new FileWebhookSecrets(file);
    const old = await store.current('dev');
    const fresh = await store.rotate('dev', 300, T0);
    expect(await store.signingSecrets('dev', after(299))).toEqual([fresh, old]);
    expect(await store.signingSecrets('dev', after(300))).toEqual([fresh]);
    expect(await store.tenantSecrets('dev')).toEqual({
      current: fresh,
      previous: [{ secret: old, expiresAt: after(300).toISOString() }],
    });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('loses no write when callers in one process overlap', async () => {
    const store = new FileWebhookSecrets(file);
    const tenants = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const currents = await Promise.all(tenants.map((t) => store.current(t)));
    await Promise.all(tenants.map((t) => store.rotate(t, 600, T0)));
    const onDisk = JSON.parse(await readFile(file, 'utf8')) as Record<string, TenantSecrets>;
    expect(Object.keys(onDisk).sort()).toEqual([...tenants].sort());
    tenants.forEach((t, i) => expect(onDisk[t]!.previous[0]!.secret).toBe(currents[i]));
  });

  it('reports a damaged file by where it is wrong', async () => {
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ dev: { current: 'nope', previous: [] } }));
    const store = new FileWebhookSecrets(join(dir, 'bad.json'));
    await expect(store.current('dev')).rejects.toThrow(
      /does not hold valid webhook secrets \(at dev\.current\)/,
    );
    await writeFile(join(dir, 'bad.json'), '{');
    await expect(store.current('dev')).rejects.toThrow(/does not hold JSON/);
  });
});

describe('webhookSecretsFromEnv', () => {
  it('is Secrets Manager under the prefix, and fails the cold start without one', () => {
    expect(webhookSecretsFromEnv({ WEBHOOK_SECRETS_PREFIX: PREFIX })).toBeInstanceOf(
      SecretsManagerWebhookSecrets,
    );
    expect(() => webhookSecretsFromEnv({})).toThrow(ConfigError);
  });
});
