import { createLogger } from '../config/logger.js';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { apiKeyFromHeaders, hashApiKey } from '../domain/api-key.js';

const logger = createLogger();
const store = jobStoreFromEnv();

/** Warm containers remember key -> tenant briefly, so polling does not cost a read per request. */
const CACHE_MS = 60_000;
const cache = new Map<string, { tenant: string; until: number }>();

async function tenantFor(keyHash: string): Promise<string | undefined> {
  const hit = cache.get(keyHash);
  if (hit && hit.until > Date.now()) return hit.tenant;
  const tenant = await store.tenantForKey(keyHash);
  if (tenant) cache.set(keyHash, { tenant, until: Date.now() + CACHE_MS });
  return tenant;
}

function lowerCased(
  headers: APIGatewayRequestAuthorizerEvent['headers'],
): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * REQUEST authorizer: the key may come in `Authorization: Bearer` or `x-api-key`. Throwing
 * 'Unauthorized' is how API Gateway is told to answer 401 (gateway response UNAUTHORIZED).
 */
export const handler = async (
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> => {
  const key = apiKeyFromHeaders(lowerCased(event.headers));
  const tenant = key ? await tenantFor(hashApiKey(key)) : undefined;
  if (!tenant) {
    logger.info('request denied', { reason: key ? 'unknown key' : 'no key' });
    throw new Error('Unauthorized');
  }
  return {
    principalId: tenant,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
    context: { tenant },
  };
};
