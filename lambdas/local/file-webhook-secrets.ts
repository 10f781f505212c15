import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from 'zod';
import {
  assertOverlap,
  assertTenant,
  freshSecrets,
  type InspectableWebhookSecretStore,
  parseStored,
  rotated,
  signingSet,
  type TenantSecrets,
  tenantSecretsSchema,
  WebhookSecretError,
} from '../adapters/webhook-secrets.js';
import { TENANT_PATTERN } from '../domain/api-key.js';
import { webhookSecretProblem } from '../domain/webhook.js';

/** Where the local stack keeps its store, inside its data dir. */
export const LOCAL_WEBHOOK_SECRETS_FILE = 'webhook-secrets.json';

const fileSchema = z.record(z.string().regex(TENANT_PATTERN), tenantSecretsSchema);
type SecretsFile = z.infer<typeof fileSchema>;

/**
 * The local stack's store: one JSON file of tenant -> TenantSecrets, owner-readable only, replaced
 * atomically (a temp file renamed over it) so a reader never sees half a file. Operations run one
 * at a time within the process, so a concurrent create and rotate cannot lose each other's write.
 * The operator CLI is another process; it only rotates, and the stack only adds missing tenants.
 */
export class FileWebhookSecrets implements InspectableWebhookSecretStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  async signingSecrets(tenant: string, now: Date): Promise<string[]> {
    return signingSet(await this.update(tenant, (s) => s), now);
  }

  async current(tenant: string): Promise<string> {
    return (await this.update(tenant, (s) => s)).current;
  }

  tenantSecrets(tenant: string): Promise<TenantSecrets> {
    return this.update(tenant, (s) => s);
  }

  async rotate(tenant: string, overlapSeconds: number, now: Date): Promise<string> {
    assertOverlap(overlapSeconds);
    return (await this.update(tenant, (s) => rotated(s, overlapSeconds, now))).current;
  }

  /**
   * Makes `secret` the tenant's current one (the local stack's AGENT_JOBS_WEBHOOK_SECRET). The
   * environment is the source of truth for that tenant, so a different earlier secret is dropped
   * rather than kept for an overlap.
   */
  async seed(tenant: string, secret: string): Promise<void> {
    const problem = webhookSecretProblem(secret);
    if (problem)
      throw new WebhookSecretError(`the webhook secret for tenant ${tenant} is not valid: ${problem}`);
    await this.update(tenant, (s) => (s.current === secret ? s : { current: secret, previous: [] }));
  }

  /** Reads the tenant's secrets (creating them when missing), applies `change`, writes if anything changed. */
  private update(tenant: string, change: (secrets: TenantSecrets) => TenantSecrets): Promise<TenantSecrets> {
    assertTenant(tenant);
    return this.exclusive(async () => {
      const all = await this.load();
      const before = all[tenant];
      const after = change(before ?? freshSecrets());
      if (after !== before) await this.save({ ...all, [tenant]: after });
      return after;
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<SecretsFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    return parseStored(fileSchema, text, `the webhook secrets file ${this.path}`);
  }

  private async save(all: SecretsFile): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}
