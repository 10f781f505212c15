import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { ENV, requireEnv } from '../config/env.js';
import { TENANT_PATTERN } from '../domain/api-key.js';
import { webhookSecretProblem } from '../domain/webhook.js';

/** A tenant's signing secrets: the current one plus previous ones still inside their overlap window. */
export interface TenantSecrets {
  current: string;
  previous: { secret: string; expiresAt: string }[];
}

export interface WebhookSecretStore {
  /** Secrets to sign with now: current first, then unexpired previous ones. Creates the tenant's secret if it has none (so a first webhook is always signed). */
  signingSecrets(tenant: string, now: Date): Promise<string[]>;
  /** The tenant's current secret, created if missing (what an operator hands to the tenant). */
  current(tenant: string): Promise<string>;
  /** New current secret; the old one stays valid (is also signed with) for overlapSeconds. Returns the new secret. */
  rotate(tenant: string, overlapSeconds: number, now: Date): Promise<string>;
}

/**
 * The overlap must outlast the deployed store's cache: a deliverer that read the secrets just before
 * a rotation signs with the old secret alone until its cache expires.
 */
export const MIN_ROTATION_OVERLAP_SECONDS = 300;
export const MAX_ROTATION_OVERLAP_SECONDS = 30 * 86_400;
/** Each previous secret adds a signature to every webhook; a handful is all a rotation needs. */
const MAX_PREVIOUS_SECRETS = 4;
const DEFAULT_CACHE_SECONDS = 60;

/** A store that can also show its whole state, for the operator CLI's `show`. */
export interface InspectableWebhookSecretStore extends WebhookSecretStore {
  /** The tenant's current and previous secrets as stored, created if missing. */
  tenantSecrets(tenant: string): Promise<TenantSecrets>;
}

/** Its messages name the tenant and what went wrong, never a secret's value. */
export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const secretSchema = z.string().refine((s) => webhookSecretProblem(s) === undefined);
export const tenantSecretsSchema = z.object({
  current: secretSchema,
  previous: z.array(z.object({ secret: secretSchema, expiresAt: z.iso.datetime() })),
});

/** Validation that reports where the stored value is wrong (a path), never what it holds. */
export function parseStored<T>(schema: z.ZodType<T>, value: string | undefined, where: string): T {
  let json: unknown;
  try {
    json = JSON.parse(value ?? '');
  } catch {
    throw new WebhookSecretError(`${where} does not hold JSON`);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const paths = parsed.error.issues.map((issue) => issue.path.join('.') || '(top level)');
  throw new WebhookSecretError(`${where} does not hold valid webhook secrets (at ${paths.join(', ')})`);
}

export function assertTenant(tenant: string): void {
  if (!TENANT_PATTERN.test(tenant)) throw new WebhookSecretError(`"${tenant}" is not a valid tenant name`);
}

export function assertOverlap(overlapSeconds: number): void {
  if (
    !Number.isInteger(overlapSeconds) ||
    overlapSeconds < MIN_ROTATION_OVERLAP_SECONDS ||
    overlapSeconds > MAX_ROTATION_OVERLAP_SECONDS
  ) {
    throw new WebhookSecretError(
      `a rotation overlap must be whole seconds from ${MIN_ROTATION_OVERLAP_SECONDS} to ${MAX_ROTATION_OVERLAP_SECONDS}`,
    );
  }
}

export const freshSecrets = (): TenantSecrets => ({ current: generateWebhookSecret(), previous: [] });

const unexpired = (secrets: TenantSecrets, now: Date) =>
  secrets.previous.filter((p) => Date.parse(p.expiresAt) > now.getTime());

export function signingSet(secrets: TenantSecrets, now: Date): string[] {
  return [secrets.current, ...unexpired(secrets, now).map((p) => p.secret)];
}

/** The old current secret joins the previous ones until the overlap ends; expired ones are dropped. */
export function rotated(secrets: TenantSecrets, overlapSeconds: number, now: Date): TenantSecrets {
  const expiresAt = new Date(now.getTime() + overlapSeconds * 1000).toISOString();
  return {
    current: generateWebhookSecret(),
    previous: [{ secret: secrets.current, expiresAt }, ...unexpired(secrets, now)].slice(
      0,
      MAX_PREVIOUS_SECRETS,
    ),
  };
}

const defaultClient = new SecretsManagerClient({});

/**
 * Secrets Manager, one secret per tenant named `${prefix}${tenant}` holding TenantSecrets as JSON
 * (encrypted at rest with the account's key for Secrets Manager, or `kmsKeyId`). The first use
 * creates it; a concurrent creator losing the race reads the winner's. Each container caches a
 * tenant's secrets for a minute so a delivery does not call Secrets Manager every time; that is why
 * a rotation's overlap has a floor. Rotation is read-modify-write without a condition (Secrets
 * Manager has none): it is a rare operator action, not something two people do at the same second.
 */
export class SecretsManagerWebhookSecrets implements InspectableWebhookSecretStore {
  private readonly cache = new Map<string, { secrets: Promise<TenantSecrets>; until: number }>();
  private readonly cacheMs: number;

  constructor(
    private readonly prefix: string,
    private readonly client: SecretsManagerClient = defaultClient,
    private readonly options: { kmsKeyId?: string; cacheSeconds?: number } = {},
  ) {
    this.cacheMs = (options.cacheSeconds ?? DEFAULT_CACHE_SECONDS) * 1000;
  }

  async signingSecrets(tenant: string, now: Date): Promise<string[]> {
    return signingSet(await this.cached(tenant), now);
  }

  async current(tenant: string): Promise<string> {
    return (await this.cached(tenant)).current;
  }

  tenantSecrets(tenant: string): Promise<TenantSecrets> {
    return this.cached(tenant);
  }

  async rotate(tenant: string, overlapSeconds: number, now: Date): Promise<string> {
    assertOverlap(overlapSeconds);
    const next = rotated(await this.load(tenant), overlapSeconds, now);
    await this.call(tenant, 'store', () =>
      this.client.send(
        new PutSecretValueCommand({ SecretId: this.name(tenant), SecretString: JSON.stringify(next) }),
      ),
    );
    this.cache.set(tenant, { secrets: Promise.resolve(next), until: Date.now() + this.cacheMs });
    return next.current;
  }

  private name(tenant: string): string {
    assertTenant(tenant);
    return `${this.prefix}${tenant}`;
  }

  /** Concurrent deliveries for one tenant share one read (and so at most one create). */
  private cached(tenant: string): Promise<TenantSecrets> {
    const hit = this.cache.get(tenant);
    if (hit && hit.until > Date.now()) return hit.secrets;
    const secrets = this.load(tenant);
    this.cache.set(tenant, { secrets, until: Date.now() + this.cacheMs });
    secrets.catch(() => this.cache.delete(tenant));
    return secrets;
  }

  private async load(tenant: string): Promise<TenantSecrets> {
    return (await this.read(tenant)) ?? (await this.create(tenant));
  }

  private async read(tenant: string): Promise<TenantSecrets | undefined> {
    const name = this.name(tenant);
    try {
      const { SecretString } = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
      return parseStored(tenantSecretsSchema, SecretString, `secret ${name}`);
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      if (err instanceof WebhookSecretError) throw err;
      throw this.failure(tenant, 'read', err);
    }
  }

  private async create(tenant: string): Promise<TenantSecrets> {
    const secrets = freshSecrets();
    try {
      await this.client.send(
        new CreateSecretCommand({
          Name: this.name(tenant),
          Description: `Standard Webhooks signing secrets of agent-jobs tenant ${tenant}`,
          SecretString: JSON.stringify(secrets),
          ...(this.options.kmsKeyId ? { KmsKeyId: this.options.kmsKeyId } : {}),
        }),
      );
      return secrets;
    } catch (err) {
      if (!(err instanceof ResourceExistsException)) throw this.failure(tenant, 'create', err);
      const winner = await this.read(tenant);
      if (!winner) throw this.failure(tenant, 'create', err);
      return winner;
    }
  }

  private async call<T>(tenant: string, action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(tenant, action, err);
    }
  }

  /** SDK errors name the secret and the reason; the cause is kept for operators, values never were in it. */
  private failure(tenant: string, action: string, cause: unknown): WebhookSecretError {
    const name = cause instanceof Error ? cause.name : 'unknown error';
    return new WebhookSecretError(`could not ${action} the webhook secrets of tenant ${tenant} (${name})`, {
      cause,
    });
  }
}

/** The deployed store, under WEBHOOK_SECRETS_PREFIX; the local stack gives the deliverer its own file store. */
export function webhookSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookSecretStore {
  return new SecretsManagerWebhookSecrets(requireEnv(ENV.webhookSecretsPrefix, env));
}
