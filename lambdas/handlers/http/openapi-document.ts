import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import * as z from 'zod';
import { PROBLEM_CONTENT_TYPE } from '../../config/gateway-responses.js';
import { API_ROUTES } from '../../config/routes.js';
import {
  agentListSchema,
  agentSchema,
  deliveryIdSchema,
  deliveryListSchema,
  deliverySchema,
  healthSchema,
  jobEventListSchema,
  jobIdSchema,
  jobListSchema,
  jobSchema,
  problemSchema,
  usageReportSchema,
} from './document-schemas.js';
import {
  eventSeqSchema,
  listEventsQuerySchema,
  listJobsQuerySchema,
  streamQuerySchema,
  usageQuerySchema,
} from './query-schemas.js';
import { withTenantLimits } from './openapi-limits.js';
import { classic } from './classic-schema.js';
import { createJobRequestSchema, submitInputRequestSchema } from './schemas.js';

const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: 'Problem details (RFC 9457)',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } },
      },
    ]),
  );
const jobBody = (description: string) => ({
  description,
  content: { 'application/json': { schema: jobSchema } },
});
const retryAfter = z
  .int()
  .min(1)
  .max(30)
  .meta({ description: 'Seconds to wait before polling again; absent once terminal.' });
const idPath = z.object({ id: jobIdSchema });
const prefer = z.string().optional().meta({
  description:
    'RFC 7240. `wait=N` (N up to 20) holds the request until the job is terminal or N seconds pass.',
  example: 'wait=10',
});
const preferenceApplied = z
  .string()
  .meta({ description: 'Present when the job became terminal within the wait, e.g. `wait=10`.' });
const terminalJob = (headers: Record<string, z.ZodType>) => ({
  ...jobBody('The job finished within the `Prefer: wait`'),
  headers: z.object({ 'Preference-Applied': preferenceApplied, ...headers }),
});

const etag = z.string().meta({ description: 'Validator of this representation of the job.' });
const ifNoneMatch = z.string().optional().meta({
  description: 'The ETag of the job the client holds: `304 Not Modified` if it is still current.',
});

type PathSpec = Omit<Parameters<OpenAPIRegistry['registerPath']>[0], 'method' | 'path'>;

/** Operation details per handler; paths and methods come from the shared route table. */
const OPERATIONS: Record<string, PathSpec> = {
  'create-job': {
    summary: 'Submit a job',
    request: {
      headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional(), prefer }),
      body: { required: true, content: { 'application/json': { schema: classic(createJobRequestSchema) } } },
    },
    responses: {
      200: terminalJob({ Location: z.string() }),
      202: { ...jobBody('Accepted'), headers: z.object({ Location: z.string(), 'Retry-After': retryAfter }) },
      ...problems(400, 401, 409, 413, 415, 422),
    },
  },
  'list-jobs': {
    summary: "List the tenant's jobs, newest first",
    request: { query: listJobsQuerySchema },
    responses: {
      200: { description: 'A page of jobs', content: { 'application/json': { schema: jobListSchema } } },
      ...problems(400, 401),
    },
  },
  'get-job': {
    summary: 'Get a job',
    request: { params: idPath, headers: z.object({ prefer, 'if-none-match': ifNoneMatch }) },
    responses: {
      200: {
        ...jobBody('The job (terminal if Preference-Applied is present)'),
        headers: z.object({
          ETag: etag,
          'Retry-After': retryAfter,
          'Preference-Applied': preferenceApplied.optional(),
        }),
      },
      304: {
        description: 'The job has not changed since the ETag given in If-None-Match (no body)',
        headers: z.object({ ETag: etag, 'Retry-After': retryAfter }),
      },
      ...problems(400, 401, 404),
    },
  },
  'list-events': {
    summary: "Page through the job's event log, oldest first",
    request: { params: idPath, query: listEventsQuerySchema },
    responses: {
      200: {
        description: 'A page of events',
        content: { 'application/json': { schema: jobEventListSchema } },
      },
      ...problems(400, 401, 404),
    },
  },
  'follow-events': {
    summary: "Follow the job's events live (Server-Sent Events)",
    description:
      'Each message: `id: <seq>`, `event: <type>`, `data: <JobEvent JSON>`. Comment keep-alives every 15 s. ' +
      'Ends after the terminal event, or after a maximum duration: reconnect with Last-Event-ID to resume.',
    request: {
      params: idPath,
      query: streamQuerySchema,
      headers: z.object({ 'last-event-id': eventSeqSchema.optional() }),
    },
    responses: {
      200: {
        description: 'The event stream',
        content: { 'text/event-stream': { schema: z.string() } },
      },
      204: { description: 'The job is terminal and the client already has its last event: stop.' },
      ...problems(400, 401, 404),
    },
  },
  'cancel-job': {
    summary: 'Cancel a job (idempotent)',
    request: { params: idPath },
    responses: { 200: jobBody('The cancelled job'), ...problems(400, 401, 404, 409) },
  },
  'submit-input': {
    summary: "Answer the job's input request",
    description:
      'Only while the job is `input_required`; the answer must match `inputRequest.schema` when there is one.',
    request: {
      params: idPath,
      body: {
        required: true,
        content: { 'application/json': { schema: classic(submitInputRequestSchema) } },
      },
    },
    responses: { 200: jobBody('The job, running again'), ...problems(400, 401, 404, 409, 413, 415) },
  },
  'list-deliveries': {
    summary: "The job's webhook deliveries, each with every attempt",
    request: { params: idPath },
    responses: {
      200: {
        description: 'The deliveries, oldest event first',
        content: { 'application/json': { schema: deliveryListSchema } },
      },
      ...problems(400, 401, 404),
    },
  },
  'replay-delivery': {
    summary: 'Send a delivery again',
    description:
      'Same `webhook-id` and body, fresh `webhook-timestamp` and signature; retried on the schedule like the first round. At most 5 replays per delivery per hour (429 `rate_limited` with Retry-After beyond).',
    request: { params: z.object({ id: jobIdSchema, deliveryId: deliveryIdSchema }) },
    responses: {
      202: { description: 'Queued', content: { 'application/json': { schema: deliverySchema } } },
      ...problems(400, 401, 404),
    },
  },
  'list-agents': {
    summary: 'The agents this deployment runs',
    responses: {
      200: { description: 'The agents', content: { 'application/json': { schema: agentListSchema } } },
      ...problems(401),
    },
  },
  'get-agent': {
    summary: 'One agent: its version, input schema and availability',
    request: { params: z.object({ name: z.string().min(1) }) },
    responses: {
      200: { description: 'The agent', content: { 'application/json': { schema: agentSchema } } },
      ...problems(401, 404),
    },
  },
  'get-usage': {
    summary: "The tenant's consumption per UTC day, and its limits",
    description:
      'Jobs, answered model calls, tokens and list-price cost per day, days without activity left out. ' +
      'Each job and each answered model call is counted once, on the day its step was recorded.',
    request: { query: usageQuerySchema },
    responses: {
      200: { description: 'The usage', content: { 'application/json': { schema: usageReportSchema } } },
      ...problems(400, 401),
    },
  },
  'health-live': {
    summary: 'Liveness',
    responses: { 200: { description: 'Alive', content: { 'application/json': { schema: healthSchema } } } },
  },
  'health-ready': {
    summary: 'Readiness: table, state machine and model provider',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: healthSchema } } },
      503: { description: 'Not ready', content: { 'application/json': { schema: healthSchema } } },
    },
  },
  openapi: {
    summary: 'This document',
    responses: {
      200: {
        description: 'OpenAPI 3.1',
        content: { 'application/json': { schema: z.object({}).passthrough() } },
      },
    },
  },
};

/**
 * Stable names for generated clients, keyed by method and path (handler file names are internal and
 * may change without the API changing).
 */
const OPERATION_IDS: Record<string, string> = {
  'POST /v1/jobs': 'createJob',
  'GET /v1/jobs': 'listJobs',
  'GET /v1/jobs/{id}': 'getJob',
  'GET /v1/jobs/{id}/events': 'listJobEvents',
  'GET /v1/jobs/{id}/stream': 'streamJobEvents',
  'POST /v1/jobs/{id}/cancel': 'cancelJob',
  'POST /v1/jobs/{id}/input': 'submitJobInput',
  'DELETE /v1/jobs/{id}': 'deleteJob',
  'GET /v1/jobs/{id}/deliveries': 'listJobDeliveries',
  'POST /v1/jobs/{id}/deliveries/{deliveryId}/replay': 'replayJobDelivery',
  'GET /v1/agents': 'listAgents',
  'GET /v1/agents/{name}': 'getAgent',
  'GET /v1/usage': 'getUsage',
  'GET /v1/health/live': 'getLiveness',
  'GET /v1/health/ready': 'getReadiness',
  'GET /v1/openapi.json': 'getOpenApiDocument',
};

export function buildOpenApiDocument() {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
  });
  for (const route of API_ROUTES) {
    const spec = OPERATIONS[route.handler];
    if (!spec) throw new Error(`no OpenAPI operation for handler ${route.handler}`);
    const operationId = OPERATION_IDS[`${route.method} ${route.path}`];
    if (!operationId) throw new Error(`no operationId for ${route.method} ${route.path}`);
    registry.registerPath({
      method: route.method.toLowerCase() as 'get' | 'post' | 'delete',
      path: route.path,
      operationId,
      // An empty list says the route is public; without it a global default would apply.
      security: route.auth ? [{ bearer: [] }, { apiKey: [] }] : [],
      ...spec,
    });
  }
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'agent-jobs',
      version: '1.0.0',
      description: 'Asynchronous jobs for AI agents: submit, poll, cancel. Errors are RFC 9457 problem+json.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
  });
  return withTenantLimits(document);
}
