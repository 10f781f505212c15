import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { devApiKey, parseApiKeys } from '../../../lambdas/local/api-keys.js';

describe('parseApiKeys', () => {
  it('reads tenant:key pairs', () => {
    expect(parseApiKeys(' a:ak_1 , team-b:ak:with:colons')).toEqual([
      { tenant: 'a', key: 'ak_1', name: 'AGENT_JOBS_API_KEYS' },
      { tenant: 'team-b', key: 'ak:with:colons', name: 'AGENT_JOBS_API_KEYS' },
    ]);
    expect(parseApiKeys(undefined)).toEqual([]);
  });

  it.each([['nokey'], ['Bad Tenant:k'], ['a:'], ['a:has space']])(
    'rejects %j with the entry it could not read',
    (spec) => {
      expect(() => parseApiKeys(`ok:k1,${spec}`)).toThrow(/entry 2/);
    },
  );
});

describe('devApiKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'api-keys-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('generates a key once, keeps it owner-readable only, and returns it on the next start', async () => {
    const first = await devApiKey(dir, undefined);
    expect(first).toMatch(/^ak_[A-Za-z0-9_-]{43}$/);
    expect((await stat(join(dir, 'dev-api-key'))).mode & 0o777).toBe(0o600);
    expect(await devApiKey(dir, undefined)).toBe(first);
  });

  it('prefers AGENT_JOBS_API_KEY and does not persist it', async () => {
    expect(await devApiKey(dir, 'ak_from_env')).toBe('ak_from_env');
    await expect(readFile(join(dir, 'dev-api-key'))).rejects.toThrow();
  });
});
