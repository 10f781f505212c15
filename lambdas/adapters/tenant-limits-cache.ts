import { ENV } from '../config/env.js';
import { effectiveLimits, parseDefaultLimits, type TenantLimits } from '../domain/tenant-limits.js';
import { type DynamoTenantLimitsStore, tenantLimitsStoreFromEnv } from './dynamo-tenant-limits-store.js';

/** Limit changes reach a warm container within this, as they do through the authorizer. */
const CACHE_MS = 30_000;
const MAX_CACHED = 10_000;

/** A tenant's effective limits, read once per tenant and kept for 30 s, for functions behind no authorizer. */
export class TenantLimitsCache {
  private readonly entries = new Map<string, { limits: TenantLimits; until: number }>();

  constructor(
    private readonly store: Pick<DynamoTenantLimitsStore, 'get'>,
    private readonly defaults: TenantLimits,
  ) {}

  async of(tenant: string, now = Date.now()): Promise<TenantLimits> {
    const hit = this.entries.get(tenant);
    if (hit && hit.until > now) return hit.limits;
    const limits = effectiveLimits(this.defaults, await this.store.get(tenant));
    this.entries.delete(tenant);
    if (this.entries.size >= MAX_CACHED) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(tenant, { limits, until: now + CACHE_MS });
    return limits;
  }
}

export const tenantLimitsCacheFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new TenantLimitsCache(tenantLimitsStoreFromEnv(env), parseDefaultLimits(env[ENV.defaultLimits]));
