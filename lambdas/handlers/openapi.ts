import { httpHandler } from './http/middleware.js';
import { buildOpenApiDocument } from './http/openapi-document.js';

/** Built once per container from the same zod schemas that validate requests. */
const document = JSON.stringify(buildOpenApiDocument());

export const handler = httpHandler(async () => ({
  statusCode: 200,
  headers: { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300' },
  body: document,
}));
