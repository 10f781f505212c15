import { PROBLEM_CONTENT_TYPE } from '../../config/gateway-responses.js';

/**
 * The tenant limits as the OpenAPI document states them: every operation behind the authorizer
 * answers with the RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11) and may answer 429.
 * Added to the generated document as reusable components, so each operation only refers to them.
 */

const HEADERS = {
  RateLimit: {
    description:
      'What is left of the request-rate policy: `r` requests, the window full again in `t` seconds.',
    schema: { type: 'string' },
    example: '"requests";r=598;t=1',
  },
  'RateLimit-Policy': {
    description: "The tenant's request-rate policy: `q` requests per `w` seconds (requestsPerMinute).",
    schema: { type: 'string' },
    example: '"requests";q=600;w=60',
  },
  'Retry-After': {
    description: 'Seconds to wait before sending the request again.',
    schema: { type: 'integer', minimum: 1 },
  },
} as const;

const ref = (kind: 'headers' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const RATE_LIMIT_HEADERS = {
  RateLimit: ref('headers', 'RateLimit'),
  'RateLimit-Policy': ref('headers', 'RateLimit-Policy'),
};

const TOO_MANY_REQUESTS = {
  description:
    'Over a tenant limit (problem+json): `rate_limited` over requestsPerMinute. Nothing was done: ' +
    'send the request again after Retry-After seconds.',
  headers: { 'Retry-After': ref('headers', 'Retry-After'), ...RATE_LIMIT_HEADERS },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
};

/** Operations with a limit of their own besides the request rate. */
const OWN_LIMITS: Record<string, string> = {
  createJob:
    '`rate_limited` over requestsPerMinute; `quota_exceeded` when the tenant already has maxQueuedJobs ' +
    'jobs pending: retry after Retry-After, by which time running jobs may have finished. Nothing was created.',
  streamJobEvents:
    '`rate_limited` over requestsPerMinute, or when the tenant already has maxStreams event streams ' +
    'open. Answered before any event; retry after Retry-After or once one of those streams ends.',
  replayJobDelivery:
    '`rate_limited` over requestsPerMinute, or after 5 replays of this delivery in the last hour. ' +
    'Nothing was queued: retry after Retry-After.',
};

/** Answered by the gateway before the handler runs, so without the RateLimit fields. */
const GATEWAY_ONLY = new Set(['401']);

interface Operation {
  operationId?: string;
  security?: unknown[];
  responses?: Record<string, { headers?: Record<string, unknown>; $ref?: string; description?: string }>;
}

interface Document {
  paths?: Record<string, Record<string, Operation> | undefined>;
  components?: Record<string, Record<string, unknown> | undefined>;
}

function addLimits(operation: Operation) {
  const responses = (operation.responses ??= {});
  for (const [status, response] of Object.entries(responses)) {
    if (GATEWAY_ONLY.has(status) || response.$ref) continue;
    response.headers = { ...response.headers, ...RATE_LIMIT_HEADERS };
  }
  const own = operation.operationId && OWN_LIMITS[operation.operationId];
  responses['429'] = own
    ? { ...ref('responses', 'TooManyRequests'), description: own }
    : ref('responses', 'TooManyRequests');
}

/** The document with the limits of every authenticated operation stated (changes it in place). */
export function withTenantLimits<D extends object>(generated: D): D {
  const document = generated as Document;
  const components = (document.components ??= {});
  components.headers = { ...components.headers, ...HEADERS };
  components.responses = { ...components.responses, TooManyRequests: TOO_MANY_REQUESTS };
  for (const path of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(path ?? {})) {
      if (operation.security?.length) addLimits(operation);
    }
  }
  return generated;
}
