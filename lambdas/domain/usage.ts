import { ValidationError } from './errors.js';
import type { TokenUsage } from './model.js';
import { costNanoUsd } from './model-prices.js';

/**
 * A tenant's consumption per UTC day: jobs started and answered model calls with their tokens and
 * list-price cost. Counters only grow, each by the write that records what it counts, so a day's
 * figures never need a scan of its jobs.
 */
export interface UsageCounts {
  jobs: number;
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** Billionths of a dollar over the priced calls (integers: no float drift). */
  costNanoUsd: number;
  /** Calls of models without a price: the day's cost is then unknown. */
  unpricedCalls: number;
}

/** The counters, as stored on a day's item. */
export const USAGE_COUNTERS = [
  'jobs',
  'modelCalls',
  'inputTokens',
  'outputTokens',
  'costNanoUsd',
  'unpricedCalls',
] as const satisfies readonly (keyof UsageCounts)[];

/** One day as the API shows it. */
export interface UsageDay {
  date: string;
  jobs: number;
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** Null when a call that day was of a model without a price (as a job's own `usage.costUsd`). */
  costUsd: number | null;
}

/** Usage counters are kept this long, then expire through TTL. */
export const USAGE_RETENTION_DAYS = 400;
/** The longest range one usage request may ask for. */
export const MAX_USAGE_DAYS = 92;

const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC day of an instant, `YYYY-MM-DD`. */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10);

/** A real calendar day in `YYYY-MM-DD` form (2026-02-30 is not one). */
export const isUtcDay = (text: string) =>
  DATE.test(text) &&
  !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) &&
  utcDay(new Date(`${text}T00:00:00Z`)) === text;

/** Epoch seconds when a day's counters may go: USAGE_RETENTION_DAYS after the day ends. */
export const usageTtl = (day: string) =>
  Math.floor((Date.parse(`${day}T00:00:00Z`) + (USAGE_RETENTION_DAYS + 1) * DAY_MS) / 1000);

/** What one answered model call adds. */
export interface AnsweredCall {
  model: string;
  usage: TokenUsage;
}

/**
 * What one recorded step adds to its day: the job when this is the first step it records, and the
 * model call the step answered. Undefined when it adds nothing.
 */
export function stepTally(firstStep: boolean, call: AnsweredCall | undefined): UsageCounts | undefined {
  if (!firstStep && !call) return undefined;
  const cost = call ? costNanoUsd(call.model, call.usage) : 0;
  return {
    jobs: firstStep ? 1 : 0,
    modelCalls: call ? 1 : 0,
    inputTokens: call?.usage.inputTokens ?? 0,
    outputTokens: call?.usage.outputTokens ?? 0,
    costNanoUsd: cost ?? 0,
    unpricedCalls: cost === null ? 1 : 0,
  };
}

/** A stored day as the API shows it. */
export const usageDay = (date: string, c: UsageCounts): UsageDay => ({
  date,
  jobs: c.jobs,
  modelCalls: c.modelCalls,
  inputTokens: c.inputTokens,
  outputTokens: c.outputTokens,
  costUsd: c.unpricedCalls > 0 ? null : c.costNanoUsd / 1e9,
});

export interface UsageRange {
  from: string;
  to: string;
}

/** Days a range spans, both ends included. */
export const rangeDays = (r: UsageRange) =>
  Math.round((Date.parse(`${r.to}T00:00:00Z`) - Date.parse(`${r.from}T00:00:00Z`)) / DAY_MS) + 1;

/**
 * The range a request asks for: `to` defaults to today (UTC), `from` to 29 days before `to`. Both
 * must be real days, `to` not before `from`, at most MAX_USAGE_DAYS days in all.
 */
export function usageRange(from: string | undefined, to: string | undefined, now: Date): UsageRange {
  const errors = (['from', 'to'] as const)
    .filter((name) => {
      const value = name === 'from' ? from : to;
      return value !== undefined && !isUtcDay(value);
    })
    .map((name) => ({ path: `query.${name}`, message: 'must be a UTC day, YYYY-MM-DD' }));
  if (errors.length > 0) throw new ValidationError('the query string is not valid', errors);
  const end = to ?? utcDay(now);
  const range = { from: from ?? utcDay(new Date(Date.parse(`${end}T00:00:00Z`) - 29 * DAY_MS)), to: end };
  const days = rangeDays(range);
  if (days < 1) {
    throw new ValidationError('the query string is not valid', [
      { path: 'query.to', message: 'must not be before from' },
    ]);
  }
  if (days > MAX_USAGE_DAYS) {
    throw new ValidationError('the query string is not valid', [
      { path: 'query.to', message: `the range may span at most ${MAX_USAGE_DAYS} days` },
    ]);
  }
  return range;
}
