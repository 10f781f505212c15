import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type DynamoRateLimiter, rateLimiterFromEnv } from '../../adapters/dynamo-rate-limiter.js';
import { RateLimitedError } from '../../domain/errors.js';
import { ceilSeconds, type GcraDecision, type GcraPolicy } from '../../domain/gcra.js';
import { problemFromError } from './problem.js';

const WINDOW_MS = 60_000;

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11) for one decision. */
export function rateLimitHeaders(limit: number, decision: GcraDecision): Record<string, string> {
  return {
    'RateLimit-Policy': `"requests";q=${limit};w=${WINDOW_MS / 1000}`,
    RateLimit: `"requests";r=${decision.remaining};t=${ceilSeconds(decision.resetMs)}`,
  };
}

/** A limit of the tenant, as the authorizer put it in the context; none on public routes. */
export function authorizedLimit(
  event: APIGatewayProxyEvent,
  name: 'requestsPerMinute' | 'maxStreams' | 'maxQueuedJobs',
): number | undefined {
  const limit = Number(event.requestContext?.authorizer?.[name]);
  return Number.isInteger(limit) && limit >= 1 ? limit : undefined;
}

/** The tenant and its request rate, as the authorizer put them in the context; none on public routes. */
function authorizedRate(event: APIGatewayProxyEvent): { tenant: string; limit: number } | undefined {
  const tenant = event.requestContext?.authorizer?.tenant;
  const limit = authorizedLimit(event, 'requestsPerMinute');
  if (typeof tenant !== 'string' || limit === undefined) return undefined;
  return { tenant, limit };
}

// The table is only named to functions behind the authorizer, so the limiter is made on first use.
let sharedLimiter: DynamoRateLimiter | undefined;
const limiterFromEnv = () => (sharedLimiter ??= rateLimiterFromEnv());

export interface Admission {
  /** The RateLimit fields every answer to the request carries, refused or not. */
  headers: Record<string, string>;
  /** Set when the request is over its tenant's rate: it is answered with this and nothing changes. */
  refused?: RateLimitedError;
}

/**
 * Counts one request against its tenant's rate (one write). Shared by the buffered routes'
 * middleware and the streamed route, which answers on its own response stream.
 */
export async function admitRequest(
  event: APIGatewayProxyEvent,
  limiter: () => Pick<DynamoRateLimiter, 'admit'> = limiterFromEnv,
  now: () => number = Date.now,
): Promise<Admission> {
  const rate = authorizedRate(event);
  if (!rate) return { headers: {} };
  const decision = await limiter().admit(rate.tenant, { limit: rate.limit, windowMs: WINDOW_MS }, now());
  const headers = rateLimitHeaders(rate.limit, decision);
  return decision.admitted ? { headers } : { headers, refused: refusal(rate.limit, decision) };
}

const refusal = (limit: number, decision: GcraDecision) =>
  new RateLimitedError(
    `over ${limit} requests per minute; retry after the Retry-After seconds`,
    Math.max(1, ceilSeconds(decision.retryAfterMs)),
  );

/** Decisions of handlers that admitted their request in their own write (submit). */
const decisions = new WeakMap<APIGatewayProxyEvent, GcraDecision>();

/** A handler that admitted the request in its own write records the decision for the RateLimit fields. */
export function recordRateDecision(event: APIGatewayProxyEvent, decision: GcraDecision) {
  decisions.set(event, decision);
}

/** The tenant's request rate, for a handler that admits the request in its own write; none on public routes. */
export function requestRateOf(event: APIGatewayProxyEvent): GcraPolicy | undefined {
  const rate = authorizedRate(event);
  return rate && { limit: rate.limit, windowMs: WINDOW_MS };
}

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
 *
 * `inHandler`: the handler admits the request in its own write (a submit folds the rate update
 * into its transaction: one round trip instead of two) and records the decision; a request that
 * ended without that write (bad input, a replay, a full queue) is counted here afterwards, still
 * one write, and answered 429 if it was over the limit.
 */
export function rateLimit(
  limiter: () => Pick<DynamoRateLimiter, 'admit'> = limiterFromEnv,
  now: () => number = Date.now,
  options: { inHandler?: boolean } = {},
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const admit = async (request: WithHeaders) => {
    const { headers, refused } = await admitRequest(request.event, limiter, now);
    request[HEADERS] = headers;
    return refused;
  };
  const settle = async (request: WithHeaders) => {
    const rate = options.inHandler ? authorizedRate(request.event) : undefined;
    if (rate) {
      const error = request.error instanceof RateLimitedError ? request.error : undefined;
      const recorded = decisions.get(request.event) ?? error?.decision;
      if (recorded) request[HEADERS] = rateLimitHeaders(rate.limit, recorded);
      else {
        const refused = await admit(request);
        if (refused) request.response = problemFromError(refused).response;
      }
    }
    addHeaders(request);
  };
  return {
    before: async (request: WithHeaders) => {
      if (options.inHandler) return;
      const refused = await admit(request);
      if (refused) throw refused;
    },
    after: settle,
    onError: settle,
  };
}
