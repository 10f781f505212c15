import { describe, expect, it } from 'vitest';
import { admittedAt, ceilSeconds, gcraDecide, latestAdmissibleTat } from '../../../lambdas/domain/gcra.js';

const MINUTE = 60_000;
const policy = { limit: 60, windowMs: MINUTE }; // one request per second, a burst of 60
const T0 = 1_700_000_000_000;

/** Runs `count` requests at `now`, threading the TAT, and answers the decisions. */
function burst(count: number, now: number, tat?: number) {
  const decisions = [];
  let current = tat;
  for (let i = 0; i < count; i++) {
    const d = gcraDecide(policy, current, now);
    decisions.push(d);
    current = d.tat;
  }
  return decisions;
}

describe('gcraDecide', () => {
  it('admits a full burst of `limit` requests at once from a fresh bucket, then refuses', () => {
    const decisions = burst(61, T0);
    expect(decisions.slice(0, 60).every((d) => d.admitted)).toBe(true);
    expect(decisions.map((d) => d.remaining).slice(0, 3)).toEqual([59, 58, 57]);
    expect(decisions[59]).toMatchObject({ admitted: true, remaining: 0, resetMs: MINUTE });
    expect(decisions[60]).toMatchObject({
      admitted: false,
      remaining: 0,
      retryAfterMs: 1000,
      resetMs: MINUTE,
    });
  });

  it('leaves the TAT unchanged when it refuses', () => {
    const full = burst(60, T0).at(-1)!.tat;
    expect(gcraDecide(policy, full, T0).tat).toBe(full);
  });

  it('refills one request per emission interval, exactly at its edge and not a millisecond before', () => {
    const tat = burst(60, T0).at(-1)!.tat;
    expect(gcraDecide(policy, tat, T0 + 999)).toMatchObject({ admitted: false, retryAfterMs: 1 });
    expect(gcraDecide(policy, tat, T0 + 1000)).toMatchObject({ admitted: true, remaining: 0 });
  });

  it('is full again one window after a burst, and an idle bucket earns no more than a burst', () => {
    const tat = burst(60, T0).at(-1)!.tat;
    expect(gcraDecide(policy, tat, T0 + MINUTE)).toMatchObject({ admitted: true, remaining: 59 });
    const later = burst(61, T0 + 10 * MINUTE, tat);
    expect(later.filter((d) => d.admitted)).toHaveLength(60);
  });

  it('admits a steady rate at the limit forever', () => {
    let tat: number | undefined;
    for (let i = 0; i < 500; i++) {
      const d = gcraDecide(policy, tat, T0 + i * 1000);
      expect(d.admitted).toBe(true);
      tat = d.tat;
    }
  });

  it('handles limits that do not divide the window evenly', () => {
    const seven = { limit: 7, windowMs: MINUTE };
    let tat: number | undefined;
    const admitted = [];
    for (let i = 0; i < 8; i++) {
      const d = gcraDecide(seven, tat, T0);
      admitted.push(d.admitted);
      tat = d.tat;
    }
    expect(admitted).toEqual([true, true, true, true, true, true, true, false]);
    // The interval is 8571 ms (60000 / 7 rounded down): 7 fit in 59997 ms, the 8th 8568 ms later.
    expect(gcraDecide(seven, tat, T0).retryAfterMs).toBe(8568);
  });

  it('treats a TAT in the past like a fresh bucket', () => {
    expect(gcraDecide(policy, T0 - 5000, T0)).toEqual(gcraDecide(policy, undefined, T0));
  });
});

describe('admittedAt and latestAdmissibleTat', () => {
  it('agree with gcraDecide on the boundary', () => {
    const edge = latestAdmissibleTat(policy, T0);
    expect(gcraDecide(policy, edge, T0).admitted).toBe(true);
    expect(gcraDecide(policy, edge + 1, T0).admitted).toBe(false);
    expect(admittedAt(policy, edge + 1000, T0)).toMatchObject({ remaining: 0, resetMs: MINUTE });
  });
});

describe('ceilSeconds', () => {
  it('rounds a wait up to whole seconds and never below 0', () => {
    expect([0, 1, 999, 1000, 1001, -5].map(ceilSeconds)).toEqual([0, 1, 1, 1, 2, 0]);
  });
});
