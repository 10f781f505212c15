import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  apiKeyFromHeaders,
  generateApiKey,
  hashApiKey,
  isValidKeyName,
  KEY_ID_PATTERN,
  keyAdmits,
  keyIdFor,
  newApiKeyRecord,
  TENANT_PATTERN,
} from '../../../lambdas/domain/api-key.js';

describe('apiKeyFromHeaders', () => {
  it('reads Authorization: Bearer', () => {
    expect(apiKeyFromHeaders({ authorization: 'Bearer sk_live_abc' })).toBe('sk_live_abc');
  });

  it('accepts the scheme in any case and extra spaces', () => {
    expect(apiKeyFromHeaders({ authorization: 'bearer   sk_1' })).toBe('sk_1');
    expect(apiKeyFromHeaders({ authorization: '  BEARER sk_1  ' })).toBe('sk_1');
  });

  it('reads x-api-key', () => {
    expect(apiKeyFromHeaders({ 'x-api-key': 'sk_2' })).toBe('sk_2');
    expect(apiKeyFromHeaders({ 'x-api-key': '  sk_2 ' })).toBe('sk_2');
  });

  it('prefers Bearer when both are sent', () => {
    expect(apiKeyFromHeaders({ authorization: 'Bearer from-bearer', 'x-api-key': 'from-header' })).toBe(
      'from-bearer',
    );
  });

  it('falls back to x-api-key when Authorization is not a Bearer credential', () => {
    expect(apiKeyFromHeaders({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'sk_3' })).toBe('sk_3');
  });

  it.each([
    ['no headers', {}],
    ['empty Authorization', { authorization: '' }],
    ['Bearer without a key', { authorization: 'Bearer' }],
    ['Bearer with spaces only', { authorization: 'Bearer    ' }],
    ['Bearer with two tokens', { authorization: 'Bearer a b' }],
    ['Basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['empty x-api-key', { 'x-api-key': '   ' }],
    ['a key over 512 characters', { 'x-api-key': 'k'.repeat(513) }],
  ])('finds no key with %s', (_name, headers: Record<string, string>) => {
    expect(apiKeyFromHeaders(headers)).toBeUndefined();
  });

  it('accepts a key of exactly 512 characters', () => {
    expect(apiKeyFromHeaders({ authorization: `Bearer ${'k'.repeat(512)}` })).toBe('k'.repeat(512));
  });
});

describe('hashApiKey and tenants', () => {
  it('stores keys as hex SHA-256, never in clear', () => {
    const hash = hashApiKey('sk_live_abc');
    expect(hash).toBe(createHash('sha256').update('sk_live_abc').digest('hex'));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain('sk_live_abc');
    expect(hashApiKey('sk_live_abd')).not.toBe(hash);
  });

  it('allows tenants that cannot break a table key', () => {
    for (const ok of ['dev', 'acme-1', 'a_b', '0', 'a'.repeat(64)])
      expect(TENANT_PATTERN.test(ok)).toBe(true);
    for (const bad of ['', 'Acme', 'a#b', '-a', 'a b', 'a'.repeat(65), 'T#x'])
      expect(TENANT_PATTERN.test(bad)).toBe(false);
  });
});

describe('issued keys', () => {
  it('are 256 random bits, base64url, with the ak_ prefix, and never repeat', () => {
    const keys = new Set(Array.from({ length: 100 }, generateApiKey));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(key).toMatch(/^ak_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice(3), 'base64url')).toHaveLength(32);
    }
  });

  it('have an id derived from the key that is not part of the stored hash', () => {
    const key = generateApiKey();
    const id = keyIdFor(key);
    expect(id).toMatch(KEY_ID_PATTERN);
    expect(keyIdFor(key)).toBe(id);
    expect(hashApiKey(key)).not.toContain(id.slice(4));
    expect(keyIdFor(`${key}x`)).not.toBe(id);
  });
});

describe('newApiKeyRecord and keyAdmits', () => {
  const now = new Date('2025-06-01T10:00:00.000Z');

  it('records the tenant, name and expiry, and admits the key until it expires', () => {
    const key = generateApiKey();
    const record = newApiKeyRecord(key, 'acme', 'ci', now, 2);
    expect(record).toEqual({
      keyId: keyIdFor(key),
      keyHash: hashApiKey(key),
      tenant: 'acme',
      name: 'ci',
      createdAt: '2025-06-01T10:00:00.000Z',
      expiresAt: '2025-06-03T10:00:00.000Z',
      revokedAt: null,
    });
    expect(keyAdmits(record, key, new Date('2025-06-03T09:59:59.999Z'))).toBe(true);
    expect(keyAdmits(record, key, new Date('2025-06-03T10:00:00.000Z'))).toBe(false);
  });

  it('refuses another key, a revoked key, and never expires a key without expiry', () => {
    const key = generateApiKey();
    const record = newApiKeyRecord(key, 'acme', 'ci', now);
    expect(record.expiresAt).toBeNull();
    expect(keyAdmits(record, key, new Date('2125-01-01T00:00:00Z'))).toBe(true);
    expect(keyAdmits(record, generateApiKey(), now)).toBe(false);
    expect(keyAdmits({ ...record, revokedAt: now.toISOString() }, key, now)).toBe(false);
  });

  it('accepts printable names without surrounding spaces', () => {
    expect(isValidKeyName('ci deploy key')).toBe(true);
    for (const bad of ['', ' x', 'x ', 'tab\there', 'x'.repeat(101)]) expect(isValidKeyName(bad)).toBe(false);
  });
});
