import * as z from './zod-mini.js';

/** What a tenant may use; README "Limits and 429" says what happens over each. */
export interface TenantLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
  maxRunningJobs: number;
  maxQueuedJobs: number;
  maxStreams: number;
}

export const LIMIT_NAMES = [
  'requestsPerMinute',
  'tokensPerMinute',
  'maxRunningJobs',
  'maxQueuedJobs',
  'maxStreams',
] as const satisfies readonly (keyof TenantLimits)[];

/** Defaults for a stack that sets none. */
export const BUILT_IN_LIMITS: TenantLimits = {
  requestsPerMinute: 600,
  tokensPerMinute: 100_000,
  maxRunningJobs: 10,
  maxQueuedJobs: 1_000,
  maxStreams: 10,
};

const limitValue = (max: number) => z.number().check(z.int(), z.minimum(1), z.maximum(max));

/**
 * Running jobs and open streams are each held as leases in one item per tenant (a map entry per
 * job or stream, about 60 bytes), which every admission or opened stream rewrites: their bounds
 * keep that item far below DynamoDB's 400 KB and each such write at a few dozen write units.
 */
export const MAX_LEASED = 1_000;

export const limitsSchema = z.strictObject({
  requestsPerMinute: limitValue(100_000_000),
  tokensPerMinute: limitValue(100_000_000),
  maxRunningJobs: limitValue(MAX_LEASED),
  maxQueuedJobs: limitValue(100_000_000),
  maxStreams: limitValue(MAX_LEASED),
});

export const limitOverridesSchema = z.partial(limitsSchema);

export type LimitOverrides = Partial<TenantLimits>;

export class LimitsConfigError extends Error {
  override readonly name = 'LimitsConfigError';
}

/**
 * Default limits from JSON (the stack property, or AGENT_JOBS_DEFAULT_LIMITS locally): keys left
 * out keep the built-in value; an unknown key or a bad value is refused, not ignored.
 */
export function parseDefaultLimits(text: string | undefined): TenantLimits {
  if (!text?.trim()) return { ...BUILT_IN_LIMITS };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LimitsConfigError('default limits are not valid JSON');
  }
  const parsed = limitOverridesSchema.safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new LimitsConfigError(`default limits are not valid: ${where.join('; ')}`);
  }
  return { ...BUILT_IN_LIMITS, ...parsed.data };
}

/** A tenant's limits: its own overrides on top of the stack's defaults. */
export const effectiveLimits = (
  defaults: TenantLimits,
  overrides: LimitOverrides | undefined,
): TenantLimits => ({
  ...defaults,
  ...overrides,
});
