import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ApiKeyStore, newApiKeyRecord, TENANT_PATTERN } from '../domain/api-key.js';

export const DEV_TENANT = 'dev';

export interface TenantKey {
  tenant: string;
  key: string;
  /** What `keys list` shows as the key's name: where the key came from. */
  name: string;
}

/** What the authorizer accepts from a header: no whitespace or separators, and at most 512 characters. */
const KEY_PATTERN = /^[\x21-\x7e]{1,512}$/;

export class ApiKeyConfigError extends Error {
  override readonly name = 'ApiKeyConfigError';
}

/** Parses AGENT_JOBS_API_KEYS (`tenant:key,tenant:key`). */
export function parseApiKeys(spec: string | undefined): TenantKey[] {
  if (!spec?.trim()) return [];
  return spec.split(',').map((entry, i) => {
    const at = entry.indexOf(':');
    const tenant = entry.slice(0, at).trim();
    const key = entry.slice(at + 1).trim();
    if (at < 0 || !TENANT_PATTERN.test(tenant) || !KEY_PATTERN.test(key) || key.includes(',')) {
      throw new ApiKeyConfigError(
        `AGENT_JOBS_API_KEYS entry ${i + 1} is not "tenant:key" (tenant ${TENANT_PATTERN}, key up to 512 printable characters without spaces)`,
      );
    }
    return { tenant, key, name: 'AGENT_JOBS_API_KEYS' };
  });
}

/**
 * The development tenant's key: AGENT_JOBS_API_KEY when set, else the one a previous start kept
 * under the data dir, else a new one (kept, owner-readable only, so the printed key stays valid).
 */
export async function devApiKey(dataDir: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv) {
    if (!KEY_PATTERN.test(fromEnv))
      throw new ApiKeyConfigError('AGENT_JOBS_API_KEY must be up to 512 printable characters without spaces');
    return fromEnv;
  }
  const file = join(dataDir, 'dev-api-key');
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (KEY_PATTERN.test(kept)) return kept;
  const key = `ak_${randomBytes(32).toString('base64url')}`;
  await writeFile(file, key, { mode: 0o600 });
  return key;
}

/**
 * Seeded keys become ordinary key items (listable, revocable). An existing item is left as it is,
 * so a key revoked with the CLI stays revoked across restarts even though the env still names it.
 */
export async function seedApiKeys(
  store: Pick<ApiKeyStore, 'create'>,
  keys: TenantKey[],
  now: Date,
): Promise<void> {
  await Promise.all(
    keys.map(({ tenant, key, name }) => store.create(newApiKeyRecord(key, tenant, name, now))),
  );
}
