import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from '../../config/gateway-responses.js';
import { API_ROUTES } from '../../config/routes.js';
import {
  createJobRequestSchema,
  healthSchema,
  jobIdSchema,
  jobListSchema,
  jobSchema,
  listJobsQuerySchema,
  problemSchema,
} from './schemas.js';

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

type PathSpec = Omit<Parameters<OpenAPIRegistry['registerPath']>[0], 'method' | 'path'>;

/** Operation details per handler; paths and methods come from the shared route table. */
const OPERATIONS: Record<string, PathSpec> = {
  'create-job': {
    summary: 'Submit a job',
    request: {
      headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
      body: { required: true, content: { 'application/json': { schema: createJobRequestSchema } } },
    },
    responses: {
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
    request: { params: idPath },
    responses: {
      200: { ...jobBody('The job'), headers: z.object({ 'Retry-After': retryAfter }) },
      ...problems(400, 401, 404),
    },
  },
  'cancel-job': {
    summary: 'Cancel a job (idempotent)',
    request: { params: idPath },
    responses: { 200: jobBody('The cancelled job'), ...problems(400, 401, 404, 409) },
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
    registry.registerPath({
      method: route.method.toLowerCase() as 'get' | 'post' | 'delete',
      path: route.path,
      ...(route.auth ? { security: [{ bearer: [] }, { apiKey: [] }] } : {}),
      ...spec,
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'agent-jobs',
      version: '1.0.0',
      description: 'Asynchronous jobs for AI agents: submit, poll, cancel. Errors are RFC 9457 problem+json.',
    },
    servers: [{ url: '/' }],
  });
}
