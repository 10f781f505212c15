import { createHash } from 'node:crypto';

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
