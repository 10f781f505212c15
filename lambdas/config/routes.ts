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
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'POST', path: '/v1/jobs', handler: 'create-job', auth: true },
  { method: 'GET', path: '/v1/jobs', handler: 'list-jobs', auth: true },
  { method: 'GET', path: '/v1/jobs/{id}', handler: 'get-job', auth: true },
  { method: 'POST', path: '/v1/jobs/{id}/cancel', handler: 'cancel-job', auth: true },
  { method: 'DELETE', path: '/v1/jobs/{id}', handler: 'cancel-job', auth: true },
  { method: 'GET', path: '/v1/health/live', handler: 'health-live', auth: false },
  { method: 'GET', path: '/v1/health/ready', handler: 'health-ready', auth: false },
  { method: 'GET', path: '/v1/openapi.json', handler: 'openapi', auth: false },
];

/** Handlers that are not behind the API: the authorizer, the stream consumer and workflow tasks. */
export const INTERNAL_HANDLERS = {
  authorizer: 'authorizer',
  jobStream: 'job-stream',
  agentStep: 'agent-step',
  markFailed: 'mark-failed',
} as const;

/** API Gateway puts the REST stage name in front of every path; ours is `v1`, the first segment. */
export const API_STAGE = 'v1';
