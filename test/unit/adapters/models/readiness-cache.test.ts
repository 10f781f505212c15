import { describe, expect, it } from 'vitest';
import type { Readiness } from '../../../../lambdas/adapters/models/model-provider.js';
import { cachedReadiness, READINESS_CACHE_MS } from '../../../../lambdas/adapters/models/readiness-cache.js';

describe('cachedReadiness', () => {
  it('asks the provider at most once per 30 s, sharing the answer with concurrent callers', async () => {
    let clock = 0;
    const answers: Readiness[] = [{ ok: true }, { ok: false, reason: 'down' }];
    let calls = 0;
    const ready = cachedReadiness(
      async () => answers[calls++]!,
      READINESS_CACHE_MS,
      () => clock,
    );

    expect(await Promise.all([ready(), ready()])).toEqual([{ ok: true }, { ok: true }]);
    clock = READINESS_CACHE_MS - 1;
    expect(await ready()).toEqual({ ok: true });
    expect(calls).toBe(1);
    clock = READINESS_CACHE_MS;
    expect(await ready()).toEqual({ ok: false, reason: 'down' });
    expect(calls).toBe(2);
  });

  it('treats a check that throws as not ready', async () => {
    const ready = cachedReadiness(async () => {
      throw new TypeError('bad');
    });
    expect(await ready()).toEqual({ ok: false, reason: 'readiness check failed (TypeError)' });
  });
});
