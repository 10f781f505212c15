import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type DynamoRateLimiter, rateLimiterFromEnv } from '../../adapters/dynamo-rate-limiter.js';
import { RateLimitedError } from '../../domain/errors.js';
import { ceilSeconds, type GcraDecision } from '../../domain/gcra.js';

const WINDOW_MS = 60_000;

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11) for one decision. */
export function rateLimitHeaders(limit: number, decision: GcraDecision): Record<string, string> {
  return {
    'RateLimit-Policy': `"requests";q=${limit};w=${WINDOW_MS / 1000}`,
    RateLimit: `"requests";r=${decision.remaining};t=${ceilSeconds(decision.resetMs)}`,
  };
}

/** The tenant and its request rate, as the authorizer put them in the context; none on public routes. */
function authorizedRate(event: APIGatewayProxyEvent): { tenant: string; limit: number } | undefined {
  const context = event.requestContext?.authorizer;
  const tenant = context?.tenant;
  const limit = Number(context?.requestsPerMinute);
  if (typeof tenant !== 'string' || !Number.isInteger(limit) || limit < 1) return undefined;
  return { tenant, limit };
}

// The table is only named to functions behind the authorizer, so the limiter is made on first use.
let sharedLimiter: DynamoRateLimiter | undefined;
const limiterFromEnv = () => (sharedLimiter ??= rateLimiterFromEnv());

type Request = middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>;
const HEADERS = Symbol('rateLimitHeaders');
type WithHeaders = Request & { [HEADERS]?: Record<string, string> };

function addHeaders(request: WithHeaders) {
  const headers = request[HEADERS];
  if (headers && request.response) {
    request.response.headers = { ...request.response.headers, ...headers };
  }
}

/**
 * Request-rate limiting per tenant, before the handler runs: it lives here rather than in the
 * authorizer because an authorizer cannot add headers to a successful answer, and every
 * authenticated answer carries the RateLimit fields. Over the limit the handler never runs, so
 * nothing changes; the answer is 429 `rate_limited` with Retry-After.
 */
export function rateLimit(
  limiter: () => Pick<DynamoRateLimiter, 'admit'> = limiterFromEnv,
  now: () => number = Date.now,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: async (request: WithHeaders) => {
      const rate = authorizedRate(request.event);
      if (!rate) return;
      const decision = await limiter().admit(rate.tenant, { limit: rate.limit, windowMs: WINDOW_MS }, now());
      request[HEADERS] = rateLimitHeaders(rate.limit, decision);
      if (!decision.admitted) {
        throw new RateLimitedError(
          `over ${rate.limit} requests per minute; retry after the Retry-After seconds`,
          Math.max(1, ceilSeconds(decision.retryAfterMs)),
        );
      }
    },
    after: async (request: WithHeaders) => addHeaders(request),
    onError: async (request: WithHeaders) => addHeaders(request),
  };
}
