import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Tenants appear inside table keys, so they are restricted to characters that cannot break a key. */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Keys are stored as their SHA-256 only; a leaked table never leaks a usable key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The key from `Authorization: Bearer <key>` or `x-api-key: <key>` (headers already lower-cased). */
export function apiKeyFromHeaders(headers: Record<string, string | undefined>): string | undefined {
  const auth = headers.authorization?.trim();
  const bearer = auth?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const key = bearer ?? headers['x-api-key']?.trim();
  return key && key.length <= 512 ? key : undefined;
}

/**
 * How long a warm authorizer trusts what it read about a key (and a tenant's limits): the bound
 * on how late a revocation or a limit change takes effect.
 */
export const AUTHORIZER_CACHE_SECONDS = 30;

/** Prefix of the keys this product issues; env-seeded local keys may look like anything. */
export const ISSUED_KEY_PREFIX = 'ak_';
const KEY_BYTES = 32;

/** A new key: 256 random bits, base64url, prefixed so it is recognisable in a leak scan. */
export function generateApiKey(): string {
  return `${ISSUED_KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`;
}

export const KEY_ID_PATTERN = /^key_[0-9a-f]{24}$/;

/**
 * The key's public id, derived from the key under a separate label so the id reveals nothing of
 * the stored hash: the authorizer finds a key's item from the key alone, an operator revokes by id.
 */
export function keyIdFor(key: string): string {
  return `key_${createHash('sha256').update(`agent-jobs key id\0${key}`, 'utf8').digest('hex').slice(0, 24)}`;
}

/** Constant-time comparison of two hex hashes, so the check leaks nothing through timing. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** What is known about a key besides its secret; `keyHash` never leaves the store and the authorizer. */
export interface ApiKeyRecord {
  keyId: string;
  tenant: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface StoredApiKey extends ApiKeyRecord {
  keyHash: string;
}

export const MAX_KEY_NAME_LENGTH = 100;
const KEY_NAME_PATTERN = /^[\x20-\x7e]{1,100}$/;
export const isValidKeyName = (name: string) => KEY_NAME_PATTERN.test(name) && name.trim() === name;

/** The record of a new key for `tenant`, expiring `expiresInDays` after `now` when given. */
export function newApiKeyRecord(
  key: string,
  tenant: string,
  name: string,
  now: Date,
  expiresInDays?: number,
): StoredApiKey {
  const expiresAt =
    expiresInDays === undefined ? null : new Date(now.getTime() + expiresInDays * 86_400_000).toISOString();
  return {
    keyId: keyIdFor(key),
    keyHash: hashApiKey(key),
    tenant,
    name,
    createdAt: now.toISOString(),
    expiresAt,
    revokedAt: null,
  };
}

/** Whether `key` opens `stored` at `now`: its own hash, not revoked, not expired. */
export function keyAdmits(stored: StoredApiKey, key: string, now: Date): boolean {
  if (!sameHash(stored.keyHash, hashApiKey(key)) || stored.revokedAt !== null) return false;
  return stored.expiresAt === null || Date.parse(stored.expiresAt) > now.getTime();
}

/** Where keys live; adapters translate their own failures into domain errors. */
export interface ApiKeyStore {
  /** Stores a new key's record; false when a key with that id already exists (left unchanged). */
  create(record: StoredApiKey): Promise<boolean>;
  find(keyId: string): Promise<StoredApiKey | undefined>;
  /** Every key of `tenant` (or of every tenant), oldest first, without the hashes. */
  list(tenant?: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked (idempotent: a revoked key keeps its first revocation time). */
  revoke(keyId: string, now: Date): Promise<ApiKeyRecord>;
}
