import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { HANDLER_BUNDLING } from '../../lib/constructs/handler-bundling.js';

/** The inputs of a handler's bundle, built with the stack's bundling settings, and how each is imported. */
async function bundleInputs(handler: string): Promise<Metafile['inputs']> {
  const { format, target, minify, mainFields, banner } = HANDLER_BUNDLING;
  const { metafile } = await build({
    entryPoints: [`lambdas/handlers/${handler}.ts`],
    bundle: true,
    write: false,
    outfile: `${handler}.mjs`,
    platform: 'node',
    format,
    target,
    minify,
    mainFields: [...mainFields],
    banner: { js: banner },
    metafile: true,
    logLevel: 'error',
  });
  return metafile.inputs;
}

/** Inputs evaluated when the bundle loads: reached from the entry without a dynamic import(). */
function loadedAtInit(inputs: Metafile['inputs'], entry: string): Set<string> {
  const seen = new Set([entry]);
  const queue = [entry];
  for (let path = queue.pop(); path !== undefined; path = queue.pop()) {
    for (const edge of inputs[path]?.imports ?? []) {
      if (edge.external || edge.kind === 'dynamic-import' || seen.has(edge.path)) continue;
      seen.add(edge.path);
      queue.push(edge.path);
    }
  }
  return seen;
}

/** What only running an agent's steps needs: model providers, their SDK clients, server tools, metrics. */
const AGENT_RUNTIME = [
  'lambdas/agents/assistant/assistant-agent.ts',
  'lambdas/adapters/models/',
  'lambdas/adapters/safe-http.ts',
  '@aws-sdk/client-bedrock-runtime/',
  '@aws-sdk/client-secrets-manager/',
  '@aws-lambda-powertools/metrics/',
];
const runtimeIn = (paths: Iterable<string>) =>
  [...paths].filter((p) => AGENT_RUNTIME.some((part) => p.includes(part)));

describe('handler bundles', () => {
  it.each(['create-job', 'list-agents', 'get-agent'])(
    '%s carries the agent catalog, not the code that runs agents',
    async (handler) => {
      const inputs = await bundleInputs(handler);
      expect(Object.keys(inputs)).toContain('lambdas/agents/catalog.ts');
      expect(runtimeIn(Object.keys(inputs))).toEqual([]);
    },
  );

  it('agent-step carries the agent runtime', async () => {
    const inputs = await bundleInputs('agent-step');
    expect(runtimeIn(Object.keys(inputs)).length).toBeGreaterThanOrEqual(AGENT_RUNTIME.length);
  });

  it('create-job loads the S3 client only when it stores a large value', async () => {
    const inputs = await bundleInputs('create-job');
    expect(Object.keys(inputs).some((p) => p.includes('@aws-sdk/client-s3/'))).toBe(true);
    const atInit = loadedAtInit(inputs, 'lambdas/handlers/create-job.ts');
    expect([...atInit].filter((p) => p.includes('@aws-sdk/client-s3/'))).toEqual([]);
    expect(atInit).toContain('node_modules/@aws-sdk/client-dynamodb/dist-es/DynamoDBClient.js');
  });
});
