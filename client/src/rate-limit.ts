import { sleep } from './timing.js';

export interface RateLimitState {
  /** Requests left in the current window. */
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/**
 * The `RateLimit` header of draft-ietf-httpapi-ratelimit-headers-11, a structured-field list of
 * policies (`"requests";r=12;t=40`); the tightest policy is the one that matters.
 */
export function parseRateLimit(value: string | null): RateLimitState | undefined {
  let tightest: RateLimitState | undefined;
  for (const item of value?.split(',') ?? []) {
    const params = new Map(
      item
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string | undefined]),
    );
    const remaining = Number(params.get('r'));
    const resetSeconds = Number(params.get('t') ?? 0);
    if (!Number.isInteger(remaining) || !Number.isFinite(resetSeconds)) continue;
    if (!tightest || remaining < tightest.remaining) tightest = { remaining, resetSeconds };
  }
  return tightest;
}

/**
 * Paces requests by what the server says is left of its rate limit. With plenty left it adds no
 * delay; once `lowWater` or fewer requests remain it spreads them evenly over the rest of the window,
 * and with none left it waits for the reset. Shared by every request of a client, so concurrent
 * callers slow down together instead of each running into 429s.
 */
export class RateLimitPacer {
  private remaining: number | undefined;
  private resetAt = 0;
  private nextSlot = 0;

  constructor(
    private readonly lowWater: number,
    private readonly now: () => number = Date.now,
  ) {}

  observe(headers: Headers): void {
    const state = parseRateLimit(headers.get('ratelimit'));
    if (!state) return;
    this.remaining = state.remaining;
    this.resetAt = this.now() + state.resetSeconds * 1000;
  }

  /** After a 429: nobody sends again before its Retry-After. */
  pause(ms: number): void {
    this.remaining = 0;
    this.resetAt = Math.max(this.resetAt, this.now() + ms);
  }

  /** Resolves when the next request may go out; counts it against what is left. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      if (this.remaining === undefined || now >= this.resetAt) return;
      if (this.remaining > this.lowWater || (this.remaining > 0 && now >= this.nextSlot)) {
        this.nextSlot = now + (this.resetAt - now) / Math.max(1, this.remaining);
        this.remaining--;
        return;
      }
      await sleep((this.remaining > 0 ? this.nextSlot : this.resetAt) - now, signal);
    }
  }
}
