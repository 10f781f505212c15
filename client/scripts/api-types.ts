import openapiTS, { astToString } from 'openapi-typescript';
import * as prettier from 'prettier';

/** Where the client keeps the served document and the types generated from it. */
export const OPENAPI_FILE = new URL('../openapi.json', import.meta.url);
export const API_TYPES_FILE = new URL('../src/api-types.ts', import.meta.url);

const HEADER = `/**
 * Generated from the served OpenAPI document (client/openapi.json) by \`npm run generate:client\`.
 * Do not edit: a test fails when this file and the document the API serves disagree.
 */
`;

async function format(text: string, file: URL): Promise<string> {
  const options = await prettier.resolveConfig(file);
  return prettier.format(text, { ...options, filepath: file.pathname });
}

/** The document as committed: the served JSON, formatted like the rest of the repository. */
export function renderOpenApiJson(document: object): Promise<string> {
  return format(JSON.stringify(document), OPENAPI_FILE);
}

/** TypeScript types of every path, operation and schema of the document. */
export async function renderApiTypes(document: object): Promise<string> {
  const ast = await openapiTS(structuredClone(document) as Parameters<typeof openapiTS>[0]);
  return format(HEADER + astToString(ast), API_TYPES_FILE);
}
