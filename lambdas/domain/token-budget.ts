import type { ModelCallRequest, TokenUsage } from './model.js';

/**
 * A tenant's model-token budget, `tokensPerMinute` with a burst of one minute's worth: GCRA where a
 * reservation of n tokens costs n emission intervals. The state is one number, the theoretical
 * arrival time (TAT, whole milliseconds): when the bucket would be full again. A reservation at
 * `now` is admitted when it keeps the TAT within one window of `now`; admitting moves the TAT on by
 * its cost; reconciling with the real usage moves it on (more used) or back (less used, refund).
 */
export const TOKEN_WINDOW_MS = 60_000;

/**
 * Prompts are estimated at 4 characters per token: the usual rule of thumb for English text with
 * byte-pair tokenizers. Only the reservation uses it; the real usage replaces it after the call.
 */
const CHARS_PER_TOKEN = 4;
/** What a call without `maxOutputTokens` is expected to write, for its reservation. */
export const DEFAULT_OUTPUT_RESERVE = 1_000;

/** Window time that `tokens` stand for, rounded up: a charge never costs less than its tokens. */
export const chargeMs = (tokensPerMinute: number, tokens: number) =>
  Math.ceil((tokens * TOKEN_WINDOW_MS) / tokensPerMinute);

/** Window time that `tokens` stand for, rounded down: a refund never returns more than was charged. */
export const refundMs = (tokensPerMinute: number, tokens: number) =>
  Math.floor((tokens * TOKEN_WINDOW_MS) / tokensPerMinute);

/** Tokens a call may use: the prompt estimated from its characters plus the most it may write. */
export function estimatedTokens(request: ModelCallRequest): number {
  const promptChars = JSON.stringify(request.messages).length + JSON.stringify(request.tools ?? []).length;
  return Math.ceil(promptChars / CHARS_PER_TOKEN) + (request.maxOutputTokens ?? DEFAULT_OUTPUT_RESERVE);
}

/**
 * Tokens to reserve for a call estimated at `estimate` (estimatedTokens), capped at the bucket's
 * capacity so that any one call fits a full bucket and eventually runs.
 */
export function reservationTokens(estimate: number, tokensPerMinute: number): number {
  return Math.max(1, Math.min(tokensPerMinute, Math.ceil(estimate)));
}

/**
 * Tokens the call really used, as the reservation is settled. A provider that reported nothing
 * (zeros) leaves the reservation standing: refunding it would make unmetered calls free.
 */
export function usedTokens(usage: TokenUsage, reserved: number): number {
  const used = usage.inputTokens + usage.outputTokens;
  return used > 0 ? used : reserved;
}

export type ReserveDecision =
  | { admitted: true; /** The TAT to store. */ tat: number }
  | {
      admitted: false;
      /** The TAT as it stands. */ tat: number;
      /** Until the reservation fits. */ waitMs: number;
    };

/** The decision for a reservation costing `costMs` at `now`, given the stored TAT (undefined: a full bucket). */
export function decideReservation(
  storedTat: number | undefined,
  now: number,
  costMs: number,
): ReserveDecision {
  const tat = Math.max(storedTat ?? now, now);
  const next = tat + costMs;
  if (next - now > TOKEN_WINDOW_MS) return { admitted: false, tat, waitMs: next - now - TOKEN_WINDOW_MS };
  return { admitted: true, tat: next };
}

/**
 * The highest stored TAT at which a reservation of `costMs` is still admitted: the bound a store's
 * conditional write checks, so the admission test runs inside the write instead of after a read.
 */
export const latestTatFor = (now: number, costMs: number) => now + TOKEN_WINDOW_MS - costMs;

/** Whole seconds a step waits for the budget: Step Functions' Wait takes whole seconds, and never 0. */
export const budgetWaitSeconds = (waitMs: number) => Math.max(1, Math.ceil(waitMs / 1000));

/** Tokens held for one model call until it is settled or released. */
export interface TokenReservation {
  tenant: string;
  tokens: number;
  tokensPerMinute: number;
}

export type ReserveResult =
  | { admitted: true; reservation: TokenReservation }
  | { admitted: false; waitMs: number; tokensPerMinute: number };

/**
 * The tenant token budget as the agents see it: reserve before a model call, then settle with the
 * provider's usage once it answered, or release when it gave no answer.
 */
export interface TokenBudget {
  /** Reserves for a call estimated at `estimate` tokens (estimatedTokens). */
  reserve(tenant: string, estimate: number, now: number): Promise<ReserveResult>;
  /** Charges what the call used beyond its reservation, or refunds what it did not use. */
  settle(reservation: TokenReservation, usage: TokenUsage, now: number): Promise<void>;
  /** Refunds the whole reservation of a call that got no answer. */
  release(reservation: TokenReservation, now: number): Promise<void>;
}
