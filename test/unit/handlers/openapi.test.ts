import { describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../../lambdas/config/routes.js';
import { buildOpenApiDocument } from '../../../lambdas/handlers/http/openapi-document.js';
import { createJobRequestSchema } from '../../../lambdas/handlers/http/schemas.js';
import '../support/handler-env.js';
import { apiEvent, headerOf, lambdaContext } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/openapi.js');

type Doc = {
  openapi: string;
  info: { title: string; version: string; license?: unknown };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, unknown>;
    headers?: Record<string, { schema: Schema }>;
    responses?: Record<string, Response>;
  };
};
type Response = {
  $ref?: string;
  description?: string;
  content?: Record<string, { schema: Schema }>;
  headers?: Record<string, unknown>;
};
type Operation = {
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, Response>;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  security?: unknown[];
  operationId?: string;
};
type Schema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: unknown;
};

async function served(): Promise<Doc> {
  const res = await handler(apiEvent({ path: '/v1/openapi.json', tenant: null }), lambdaContext);
  expect(res.statusCode).toBe(200);
  expect(headerOf(res, 'content-type')).toBe('application/json');
  return JSON.parse(res.body) as Doc;
}

const resolve = (doc: Doc, schema: Schema | undefined): Schema | undefined =>
  schema?.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;

describe('GET /v1/openapi.json', () => {
  it('serves an OpenAPI 3.1 document equal to the generated one', async () => {
    const doc = await served();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'agent-jobs', version: expect.any(String) });
    expect(doc).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('documents every route of the route table, and only those', async () => {
    const doc = await served();
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('names every operation with a unique operationId, and states the licence', async () => {
    const doc = await served();
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids).toHaveLength(API_ROUTES.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.info.license).toEqual({ name: 'Apache-2.0', identifier: 'Apache-2.0' });
  });

  it('documents the ETag of GET /v1/jobs/{id} and its 304 answer to If-None-Match', async () => {
    const op = (await served()).paths['/v1/jobs/{id}']?.get;
    expect(op?.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'if-none-match', in: 'header' })]),
    );
    expect(op?.responses['200']?.headers).toHaveProperty('ETag');
    expect(op?.responses['304']?.headers).toHaveProperty('ETag');
    expect(op?.responses['304']?.content).toBeUndefined();
  });

  it('requires credentials exactly on the routes behind the authorizer', async () => {
    const doc = await served();
    for (const route of API_ROUTES) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      if (route.auth) expect(op?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
      else expect(op?.security).toEqual([]);
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer']);
  });

  it('gives POST /v1/jobs the request schema that validates requests', async () => {
    const doc = await served();
    const op = doc.paths['/v1/jobs']?.post;
    expect(op?.requestBody?.required).toBe(true);
    const schema = resolve(doc, op?.requestBody?.content['application/json']?.schema);
    expect(schema?.type).toBe('object');
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual(
      Object.keys(createJobRequestSchema.shape).sort(),
    );
    expect(schema?.required?.sort()).toEqual(['agent', 'input']);
    expect(schema?.additionalProperties).toBe(false);
    expect(op?.responses['202']?.headers).toHaveProperty('Location');
    expect(op?.responses['202']?.headers).toHaveProperty('Retry-After');
    expect(Object.keys(op?.responses ?? {})).toEqual(
      expect.arrayContaining(['202', '400', '401', '413', '415', '422']),
    );
  });

  it('declares the job id path parameter as required', async () => {
    const doc = await served();
    for (const [path, ops] of Object.entries(doc.paths).filter(([p]) => p.includes('{id}'))) {
      for (const op of Object.values(ops)) {
        expect(op.parameters, path).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true })]),
        );
      }
    }
  });

  it('names every body, response and shared schema as a component, whichever module defines it', async () => {
    const doc = await served();
    expect(Object.keys(doc.components.schemas).sort()).toEqual([
      'Agent',
      'AgentList',
      'CreateJobRequest',
      'Delivery',
      'DeliveryList',
      'Health',
      'Job',
      'JobEvent',
      'JobEventList',
      'JobList',
      'JobSummary',
      'JsonValue',
      'Problem',
      'SubmitInputRequest',
    ]);
  });

  it('describes errors as problem+json with the Problem schema', async () => {
    const doc = await served();
    const problem =
      doc.paths['/v1/jobs/{id}']?.get?.responses['404']?.content?.['application/problem+json']?.schema;
    const schema = resolve(doc, problem);
    expect(schema?.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
  });

  describe('tenant limits', () => {
    const RATE_LIMIT_HEADERS = {
      RateLimit: { $ref: '#/components/headers/RateLimit' },
      'RateLimit-Policy': { $ref: '#/components/headers/RateLimit-Policy' },
    };

    it('documents 429 on every authenticated operation, as one problem+json response with Retry-After', async () => {
      const doc = await served();
      for (const route of API_ROUTES.filter((r) => r.auth)) {
        const op = doc.paths[route.path]?.[route.method.toLowerCase()];
        expect(op?.responses['429']?.$ref, `${route.method} ${route.path}`).toBe(
          '#/components/responses/TooManyRequests',
        );
      }
      const tooMany = doc.components.responses?.TooManyRequests;
      expect(tooMany?.headers).toEqual({
        'Retry-After': { $ref: '#/components/headers/Retry-After' },
        ...RATE_LIMIT_HEADERS,
      });
      expect(tooMany?.content?.['application/problem+json']?.schema).toEqual({
        $ref: '#/components/schemas/Problem',
      });
      expect(doc.components.headers?.['Retry-After']?.schema).toEqual({ type: 'integer', minimum: 1 });
    });

    it('documents the RateLimit fields on every answer of an authenticated operation but the gateway 401', async () => {
      const doc = await served();
      for (const route of API_ROUTES) {
        const op = doc.paths[route.path]?.[route.method.toLowerCase()];
        for (const [status, response] of Object.entries(op?.responses ?? {})) {
          if (response.$ref) continue;
          const where = `${route.method} ${route.path} ${status}`;
          if (route.auth && status !== '401')
            expect(response.headers, where).toMatchObject(RATE_LIMIT_HEADERS);
          else expect(response.headers?.RateLimit, where).toBeUndefined();
        }
      }
      expect(Object.keys(doc.components.headers ?? {}).sort()).toEqual([
        'RateLimit',
        'RateLimit-Policy',
        'Retry-After',
      ]);
    });

    it('names the limits behind a submit and a stream answering 429', async () => {
      const doc = await served();
      expect(doc.paths['/v1/jobs']?.post?.responses['429']?.description).toMatch(
        /`quota_exceeded`.*maxQueuedJobs/,
      );
      expect(doc.paths['/v1/jobs/{id}/stream']?.get?.responses['429']?.description).toMatch(
        /`rate_limited`.*maxStreams/,
      );
    });
  });
});
