import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  API_TYPES_FILE,
  OPENAPI_FILE,
  renderApiTypes,
  renderOpenApiJson,
} from '../../../client/scripts/api-types.js';
import '../support/handler-env.js';
import { apiEvent, lambdaContext } from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/openapi.js');

/** The document exactly as GET /v1/openapi.json serves it. */
async function served(): Promise<object> {
  const res = await handler(apiEvent({ path: '/v1/openapi.json', tenant: null }), lambdaContext);
  return JSON.parse(res.body) as object;
}

const FIX = 'run `npm run generate:client` and commit the result';

describe('the client types', () => {
  it(`are generated from the document the API serves (${FIX})`, async () => {
    const document = await served();
    expect(await readFile(OPENAPI_FILE, 'utf8'), FIX).toBe(await renderOpenApiJson(document));
    expect(await readFile(API_TYPES_FILE, 'utf8'), FIX).toBe(await renderApiTypes(document));
  });
});
