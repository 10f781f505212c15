import { describe, expect, it } from 'vitest';
import {
  budgetWaitSeconds,
  chargeMs,
  decideReservation,
  DEFAULT_OUTPUT_RESERVE,
  estimatedTokens,
  latestTatFor,
  refundMs,
  reservationTokens,
  TOKEN_WINDOW_MS,
  usedTokens,
} from '../../../lambdas/domain/token-budget.js';

const T0 = 1_700_000_000_000;
const PER_MINUTE = 600; // 100 ms of window per token

/** Reserves `tokens` for each call in turn at `now`, threading the TAT as a store would. */
function reserveAll(costs: number[], now: number, tat?: number) {
  let current = tat;
  return costs.map((tokens) => {
    const d = decideReservation(current, now, chargeMs(PER_MINUTE, tokens));
    if (d.admitted) current = d.tat;
    return d;
  });
}

describe('token budget: reservations', () => {
  it('admits reservations until a minute of tokens is spoken for, then answers the exact wait', () => {
    const decisions = reserveAll([300, 300, 1], T0);
    expect(decisions[0]).toEqual({ admitted: true, tat: T0 + 30_000 });
    expect(decisions[1]).toEqual({ admitted: true, tat: T0 + 60_000 });
    // One more token needs 100 ms of refill.
    expect(decisions[2]).toEqual({ admitted: false, tat: T0 + 60_000, waitMs: 100 });
  });

  it('admits exactly at the window edge and refuses a millisecond past it', () => {
    const cost = chargeMs(PER_MINUTE, 100); // 10 s
    const tat = latestTatFor(T0, cost);
    expect(decideReservation(tat, T0, cost)).toEqual({ admitted: true, tat: T0 + TOKEN_WINDOW_MS });
    expect(decideReservation(tat + 1, T0, cost)).toEqual({ admitted: false, tat: tat + 1, waitMs: 1 });
  });

  it('treats a TAT in the past as a full bucket, and a wait as over once it has passed', () => {
    expect(decideReservation(T0 - 5_000, T0, 60_000)).toEqual({ admitted: true, tat: T0 + 60_000 });
    const refused = decideReservation(T0 + 60_000, T0, 20_000);
    expect(refused).toEqual({ admitted: false, tat: T0 + 60_000, waitMs: 20_000 });
    expect(decideReservation(T0 + 60_000, T0 + 20_000, 20_000).admitted).toBe(true);
  });

  it('never admits more than a minute of tokens to reservations made at the same instant', () => {
    const decisions = reserveAll(
      Array.from({ length: 50 }, () => 37),
      T0,
    );
    const admitted = decisions.filter((d) => d.admitted).length;
    expect(admitted).toBe(Math.floor(PER_MINUTE / 37));
    expect(admitted * 37).toBeLessThanOrEqual(PER_MINUTE);
  });

  it('rounds a charge up and a refund down, so the budget is never overspent by rounding', () => {
    // 7 tokens at 7,000 per minute is 60 ms exactly; 1 token is 8.57 ms.
    expect(chargeMs(7_000, 7)).toBe(60);
    expect(chargeMs(7_000, 1)).toBe(9);
    expect(refundMs(7_000, 1)).toBe(8);
    expect(chargeMs(100_000_000, 1)).toBe(1);
    expect(refundMs(100_000_000, 1)).toBe(0);
  });
});

describe('token budget: what a call reserves and settles', () => {
  const messages = [{ role: 'user' as const, content: 'x'.repeat(400) }];

  it('estimates the prompt from its characters plus the output bound', () => {
    const chars = JSON.stringify(messages).length + JSON.stringify([]).length;
    expect(estimatedTokens({ messages, maxOutputTokens: 50 })).toBe(Math.ceil(chars / 4) + 50);
    expect(estimatedTokens({ messages })).toBe(Math.ceil(chars / 4) + DEFAULT_OUTPUT_RESERVE);
    expect(reservationTokens(estimatedTokens({ messages }), 100_000)).toBe(
      Math.ceil(chars / 4) + DEFAULT_OUTPUT_RESERVE,
    );
  });

  it('caps a reservation at the bucket capacity, so every call fits a full bucket', () => {
    const tokens = reservationTokens(estimatedTokens({ messages, maxOutputTokens: 1_000_000 }), 500);
    expect(tokens).toBe(500);
    expect(decideReservation(undefined, T0, chargeMs(500, tokens)).admitted).toBe(true);
  });

  it('settles with what the provider reported, keeping the reservation when it reported nothing', () => {
    expect(usedTokens({ inputTokens: 11, outputTokens: 7 }, 300)).toBe(18);
    expect(usedTokens({ inputTokens: 0, outputTokens: 0 }, 300)).toBe(300);
  });

  it('waits whole seconds, rounded up, never zero', () => {
    expect(budgetWaitSeconds(1)).toBe(1);
    expect(budgetWaitSeconds(1_000)).toBe(1);
    expect(budgetWaitSeconds(1_001)).toBe(2);
    expect(budgetWaitSeconds(0)).toBe(1);
  });
});
