/**
 * The API's route table. The CDK stack builds API Gateway resources and one Lambda per entry from
 * it; the local HTTP adapter routes with the very same table, so the two cannot disagree.
 * `handler` is the file name under lambdas/handlers/.
 */
export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly handler: string;
  readonly auth: boolean;
  /** The Lambda timeout, when the handler may hold a request longer than the default 10 s. */
  readonly timeoutSeconds?: number;
  /** Answered as a stream (awslambda.streamifyResponse), not a buffered proxy result. */
  readonly streaming?: boolean;
}

/** `Prefer: wait=N` may hold a create or a get this long at most (API contract, "Quick jobs"). */
export const MAX_PREFER_WAIT_SECONDS = 20;
/** Room a held create or get keeps, beyond its longest wait, to do its own work and answer. */
export const PREFER_WAIT_MARGIN_SECONDS = 3;
const WAITING_TIMEOUT_SECONDS = MAX_PREFER_WAIT_SECONDS + PREFER_WAIT_MARGIN_SECONDS + 2;

/** Lambda's ceiling; an SSE stream ends a minute before it, cleanly, and the client reconnects. */
export const STREAM_TIMEOUT_SECONDS = 900;
export const DEFAULT_STREAM_MAX_SECONDS = 840;

/** The Lambda timeout of a function that sets none (every handler function of the stack). */
export const DEFAULT_FUNCTION_TIMEOUT_SECONDS = 10;
/** API Gateway's integration timeout for buffered responses: the REST API default, which the stack keeps. */
export const INTEGRATION_TIMEOUT_SECONDS = 29;

/** The route's Lambda timeout, as the stack sets it on the route's function. */
export const functionTimeoutSeconds = (route: ApiRoute) =>
  route.timeoutSeconds ?? DEFAULT_FUNCTION_TIMEOUT_SECONDS;

/**
 * How long a request may run before it is cut off: by the function's timeout or the integration's,
 * whichever comes first (a streamed response's integration lasts as long as its function may).
 */
export function requestDeadlineSeconds(route: ApiRoute): number {
  const integration = route.streaming
    ? (route.timeoutSeconds ?? STREAM_TIMEOUT_SECONDS)
    : INTEGRATION_TIMEOUT_SECONDS;
  return Math.min(functionTimeoutSeconds(route), integration);
}

export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'POST',
    path: '/v1/jobs',
    handler: 'create-job',
    auth: true,
    timeoutSeconds: WAITING_TIMEOUT_SECONDS,
  },
  { method: 'GET', path: '/v1/jobs', handler: 'list-jobs', auth: true },
  {
    method: 'GET',
    path: '/v1/jobs/{id}',
    handler: 'get-job',
    auth: true,
    timeoutSeconds: WAITING_TIMEOUT_SECONDS,
  },
  { method: 'GET', path: '/v1/jobs/{id}/events', handler: 'list-events', auth: true },
  {
    method: 'GET',
    path: '/v1/jobs/{id}/stream',
    handler: 'follow-events',
    auth: true,
    timeoutSeconds: STREAM_TIMEOUT_SECONDS,
    streaming: true,
  },
  { method: 'POST', path: '/v1/jobs/{id}/cancel', handler: 'cancel-job', auth: true },
  { method: 'POST', path: '/v1/jobs/{id}/input', handler: 'submit-input', auth: true },
  { method: 'DELETE', path: '/v1/jobs/{id}', handler: 'cancel-job', auth: true },
  { method: 'GET', path: '/v1/jobs/{id}/deliveries', handler: 'list-deliveries', auth: true },
  {
    method: 'POST',
    path: '/v1/jobs/{id}/deliveries/{deliveryId}/replay',
    handler: 'replay-delivery',
    auth: true,
  },
  { method: 'GET', path: '/v1/agents', handler: 'list-agents', auth: true },
  { method: 'GET', path: '/v1/agents/{name}', handler: 'get-agent', auth: true },
  { method: 'GET', path: '/v1/usage', handler: 'get-usage', auth: true },
  { method: 'GET', path: '/v1/health/live', handler: 'health-live', auth: false },
  { method: 'GET', path: '/v1/health/ready', handler: 'health-ready', auth: false },
  { method: 'GET', path: '/v1/openapi.json', handler: 'openapi', auth: false },
];

/** Handlers that are not behind the API: the authorizer, the stream consumer and workflow tasks. */
export const INTERNAL_HANDLERS = {
  authorizer: 'authorizer',
  controlExecutions: 'control-executions',
  appendEvents: 'append-events',
  agentStep: 'agent-step',
  markFailed: 'mark-failed',
  reconcileExecution: 'reconcile-execution',
  sweepJobs: 'sweep-jobs',
  deliverWebhook: 'deliver-webhook',
} as const;

/**
 * CloudFormation metadata key on each function naming its handler file, so the local stack can
 * find the code behind any function of the template (e.g. the target of an event source mapping).
 */
export const HANDLER_METADATA_KEY = 'agent-jobs:handler';

/** API Gateway puts the REST stage name in front of every path; ours is `v1`, the first segment. */
export const API_STAGE = 'v1';
