import { createLogger } from '../config/logger.js';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { apiKeyStoreFromEnv } from '../adapters/dynamo-api-key-store.js';
import { tenantLimitsStoreFromEnv } from '../adapters/dynamo-tenant-limits-store.js';
import { ENV } from '../config/env.js';
import {
  apiKeyFromHeaders,
  AUTHORIZER_CACHE_SECONDS,
  keyAdmits,
  keyIdFor,
  type StoredApiKey,
} from '../domain/api-key.js';
import { effectiveLimits, parseDefaultLimits, type TenantLimits } from '../domain/tenant-limits.js';

const logger = createLogger();
const keys = apiKeyStoreFromEnv();
const limitsStore = tenantLimitsStoreFromEnv();
const defaultLimits = parseDefaultLimits(process.env[ENV.defaultLimits]);

/**
 * Warm containers remember a key's item and a tenant's limits this long, so polling does not cost
 * reads per request. Revocation and limit changes therefore reach a warm container within 30 s;
 * the gateway's own authorizer cache is off (see the API construct), so that is the whole delay.
 */
const CACHE_MS = AUTHORIZER_CACHE_SECONDS * 1000;

/** Bounded, so a flood of made-up keys cannot grow a warm container's memory without end. */
const MAX_CACHED = 10_000;

class TimedCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load();
    this.entries.delete(key);
    if (this.entries.size >= MAX_CACHED) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: Date.now() + CACHE_MS });
    return value;
  }
}

const keyCache = new TimedCache<StoredApiKey | undefined>();
const limitsCache = new TimedCache<TenantLimits>();

/** The tenant `key` opens now, if any: the cached item is re-judged on each use, so expiry is exact. */
async function tenantFor(key: string): Promise<string | undefined> {
  const keyId = keyIdFor(key);
  const stored = await keyCache.get(keyId, () => keys.find(keyId));
  return stored && keyAdmits(stored, key, new Date()) ? stored.tenant : undefined;
}

function lowerCased(
  headers: APIGatewayRequestAuthorizerEvent['headers'],
): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * REQUEST authorizer: the key may come in `Authorization: Bearer` or `x-api-key`. Throwing
 * 'Unauthorized' is how API Gateway is told to answer 401 (gateway response UNAUTHORIZED). The
 * context carries the tenant, its request rate and stream limit (which the handlers enforce) and
 * its queued-job bound (which submit enforces).
 */
export const handler = async (
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> => {
  const key = apiKeyFromHeaders(lowerCased(event.headers));
  const tenant = key ? await tenantFor(key) : undefined;
  if (!tenant) {
    logger.info('request denied', { reason: key ? 'unknown, revoked or expired key' : 'no key' });
    throw new Error('Unauthorized');
  }
  const limits = await limitsCache.get(tenant, async () =>
    effectiveLimits(defaultLimits, await limitsStore.get(tenant)),
  );
  return {
    principalId: tenant,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
    context: {
      tenant,
      requestsPerMinute: limits.requestsPerMinute,
      maxStreams: limits.maxStreams,
      maxQueuedJobs: limits.maxQueuedJobs,
    },
  };
};
