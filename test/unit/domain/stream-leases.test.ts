import { describe, expect, it } from 'vitest';
import { judgeStreamLeases } from '../../../lambdas/domain/stream-leases.js';

const NOW = 1_750_000_000_000;

describe('judgeStreamLeases', () => {
  it('admits while unexpired leases leave room and names the ones that ran out', () => {
    const leases = { a: NOW + 1, b: NOW, c: NOW - 5 };
    expect(judgeStreamLeases(leases, 2, NOW)).toEqual({
      admitted: true,
      expired: ['b', 'c'],
      retryAfterMs: 0,
    });
  });

  it('refuses at the limit, with a wait until the earliest lease runs out, kept within 1-10 s', () => {
    expect(judgeStreamLeases({ a: NOW + 4_500, b: NOW + 90_000 }, 2, NOW)).toEqual({
      admitted: false,
      expired: [],
      retryAfterMs: 4_500,
    });
    expect(judgeStreamLeases({ a: NOW + 600_000 }, 1, NOW).retryAfterMs).toBe(10_000);
    expect(judgeStreamLeases({ a: NOW + 10 }, 1, NOW).retryAfterMs).toBe(1_000);
  });

  it('admits a first stream with no leases at all', () => {
    expect(judgeStreamLeases({}, 1, NOW).admitted).toBe(true);
  });
});
