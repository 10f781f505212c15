import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyFromHeaders, hashApiKey, TENANT_PATTERN } from '../../../lambdas/domain/api-key.js';

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
