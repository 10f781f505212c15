import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument } from '../../lambdas/handlers/http/openapi-document.js';
import { API_TYPES_FILE, OPENAPI_FILE, renderApiTypes, renderOpenApiJson } from './api-types.js';

/** Regenerates client/openapi.json and the client's types from the document the API serves. */
const document = buildOpenApiDocument();
await writeFile(OPENAPI_FILE, await renderOpenApiJson(document));
await writeFile(API_TYPES_FILE, await renderApiTypes(document));
