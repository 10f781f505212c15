import type { APIGatewayProxyEvent } from 'aws-lambda';
import { tenantLimitsStoreFromEnv } from '../adapters/dynamo-tenant-limits-store.js';
import { usageStoreFromEnv } from '../adapters/dynamo-usage-store.js';
import { ENV } from '../config/env.js';
import { effectiveLimits, parseDefaultLimits } from '../domain/tenant-limits.js';
import { usageRange } from '../domain/usage.js';
import { httpHandler } from './http/middleware.js';
import { usageQuerySchema } from './http/query-schemas.js';
import { parseWith, tenantOf } from './http/request.js';
import { json } from './http/response.js';

const usage = usageStoreFromEnv();
const limits = tenantLimitsStoreFromEnv();
const defaultLimits = parseDefaultLimits(process.env[ENV.defaultLimits]);

/** `GET /v1/usage`: the calling tenant's days in the range asked for, and its effective limits. */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const query = parseWith(usageQuerySchema, event.queryStringParameters ?? {}, 'query', 'query string');
  const now = new Date();
  const range = usageRange(query.from, query.to, now);
  const [items, own] = await Promise.all([usage.days(tenant, range, now), limits.get(tenant)]);
  return json(200, { items, limits: effectiveLimits(defaultLimits, own) });
});
