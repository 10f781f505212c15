import { execSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HANDLER_BUNDLING,
  VALUES_CLIENT,
  valuesClientBuildCommand,
} from '../../lib/constructs/handler-bundling.js';
import { HandlerFunction } from '../../lib/constructs/handler-function.js';
import type { S3LargeValueStore } from '../../lambdas/adapters/s3-large-value-store.js';
import { type SqsLocal, startSqsLocal } from '../../lambdas/local/sqs-local.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A module bundled with the stack's settings: its inputs, and the file when `outfile` is given. */
async function bundle(entry: string, outfile?: string): Promise<Metafile> {
  const { format, target, minify, mainFields, banner, externalModules } = HANDLER_BUNDLING;
  const { metafile } = await build({
    entryPoints: [entry],
    bundle: true,
    write: outfile !== undefined,
    outfile: outfile ?? 'index.mjs',
    platform: 'node',
    format,
    target,
    minify,
    mainFields: [...mainFields],
    external: [...externalModules],
    banner: { js: banner },
    metafile: true,
    logLevel: 'error',
  });
  return metafile;
}
const handlerInputs = async (handler: string) => (await bundle(`lambdas/handlers/${handler}.ts`)).inputs;

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
      const inputs = await handlerInputs(handler);
      expect(Object.keys(inputs)).toContain('lambdas/agents/catalog.ts');
      expect(runtimeIn(Object.keys(inputs))).toEqual([]);
    },
  );

  it('agent-step carries the agent runtime', async () => {
    const inputs = await handlerInputs('agent-step');
    expect(runtimeIn(Object.keys(inputs)).length).toBeGreaterThanOrEqual(AGENT_RUNTIME.length);
  });

  it.each(['create-job', 'agent-step', 'get-job'])(
    '%s leaves the S3 client out and imports the values client next to it on first use',
    async (handler) => {
      const inputs = await handlerInputs(handler);
      expect(Object.keys(inputs).filter((p) => p.includes('@aws-sdk/client-s3/'))).toEqual([]);
      expect(inputs['lambdas/adapters/s3-large-value-store.ts']!.imports).toContainEqual({
        path: VALUES_CLIENT.importPath,
        kind: 'dynamic-import',
        external: true,
      });
    },
  );
});

describe('zod in the request path', () => {
  it.each(['create-job', 'list-agents', 'authorizer'])(
    '%s builds its schemas with zod/mini, without the classic API',
    async (handler) => {
      const zodInputs = Object.keys(await handlerInputs(handler)).filter((p) =>
        p.includes('node_modules/zod/'),
      );
      expect(zodInputs.some((p) => p.includes('/zod/v4/mini/'))).toBe(true);
      expect(zodInputs.filter((p) => p.includes('/zod/v4/classic/'))).toEqual([]);
    },
  );

  it('answers bad input with the English messages in a process that never loads the classic API', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-jobs-zod-'));
    try {
      const outfile = join(dir, 'check.mjs');
      await build({
        stdin: {
          contents:
            "import { createJobRequestSchema } from './lambdas/handlers/http/schemas.ts';" +
            "const r = createJobRequestSchema.safeParse({ agent: '', input: 1, timeoutSeconds: 1.5, extra: 1 });" +
            'process.stdout.write(JSON.stringify(r.error.issues.map((i) => [i.path.join("."), i.message])));',
          resolveDir: PROJECT_ROOT,
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile,
        logLevel: 'error',
      });
      const issues = JSON.parse(
        execSync(`"${process.execPath}" "${outfile}"`, { encoding: 'utf8' }),
      ) as unknown;
      expect(issues).toEqual([
        ['agent', 'Too small: expected string to have >=1 characters'],
        ['timeoutSeconds', 'Invalid input: expected int, received number'],
        ['', 'Unrecognized key: "extra"'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('function assets', () => {
  let outdir: string;
  beforeAll(async () => {
    outdir = await mkdtemp(join(tmpdir(), 'agent-jobs-assets-'));
  });
  afterAll(async () => {
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  /** The files of the handler's deployment package, as NodejsFunction bundles and stages it. */
  async function assetFiles(handler: string): Promise<string[]> {
    const stack = new Stack(new App({ outdir }), 'Assets');
    const fn = new HandlerFunction(stack, 'Fn', { handler, logRetention: RetentionDays.ONE_DAY });
    const code = fn.function.node.findChild('Code');
    if (!(code instanceof Asset)) throw new Error(`${handler} has no staged code asset`);
    return (await readdir(join(outdir, code.assetPath))).sort();
  }

  it('ship the values client only with the functions whose bundle imports it', async () => {
    expect(await assetFiles('get-job')).toEqual([
      'index.mjs',
      'index.mjs.map',
      VALUES_CLIENT.outfile,
      `${VALUES_CLIENT.outfile}.map`,
    ]);
    expect(await assetFiles('get-agent')).toEqual(['index.mjs', 'index.mjs.map']);
  });
});

describe('the values client shipped next to a bundle', () => {
  const BUCKET = 'bundled-values';
  let fauxqs: SqsLocal;
  let dir: string;
  const env = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  } as Record<string, string>;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    fauxqs = await startSqsLocal({ inMemory: true });
    dir = await mkdtemp(join(tmpdir(), 'agent-jobs-asset-'));
    // The layout of a deployed function: the bundle as index.mjs, the values client built beside it
    // by the very command NodejsFunction runs after bundling.
    await bundle('lambdas/adapters/s3-large-value-store.ts', join(dir, 'index.mjs'));
    execSync(valuesClientBuildCommand(PROJECT_ROOT, dir), { cwd: PROJECT_ROOT, stdio: 'pipe' });
    env.AWS_ENDPOINT_URL_S3 = fauxqs.ipEndpoint;
    for (const [name, value] of Object.entries(env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  }, 60_000);

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await fauxqs?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores and reads a large value through the bundled store', async () => {
    const s3 = new S3Client({});
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const bundled = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as {
      S3LargeValueStore: typeof S3LargeValueStore;
    };
    const value = { message: 'v'.repeat(4096) };
    const ref = await new bundled.S3LargeValueStore(BUCKET).put('jobs/t1/input', value);
    const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: ref.key }));
    expect(JSON.parse(await stored.Body!.transformToString())).toEqual(value);
    // A fresh store has no cached copy, so this read goes to S3 through the shipped client.
    expect(await new bundled.S3LargeValueStore(BUCKET).get(ref)).toEqual(value);
  });
});
