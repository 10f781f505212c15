import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { HANDLER_BUNDLING } from '../lib/constructs/handler-bundling.js';
import { ENV } from '../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../lambdas/config/routes.js';
import type { Figures } from './context.js';
import { percentile, round } from './stats.js';

const run = promisify(execFile);
const IMPORTS = 10;
/** The bench names each handler by its role; the bundles are of these files under lambdas/handlers/. */
const HANDLERS = { submit: 'create-job', agentStep: INTERNAL_HANDLERS.agentStep } as const;

/** Times only the module's import (a Lambda's init phase), not Node's own start. */
const IMPORT_TIMER =
  'const t = performance.now(); await import(process.env.BENCH_BUNDLE); ' +
  'process.stdout.write(String(performance.now() - t));';

/**
 * Each handler bundled exactly as the CDK stack bundles it, then imported in a fresh Node process
 * ten times: median init time and the bundle's size. Needs no running stack.
 */
export async function benchColdStart(log: (...m: unknown[]) => void): Promise<Figures> {
  const outDir = await mkdtemp(join(tmpdir(), 'agent-jobs-bundles-'));
  try {
    const figures: Figures = {};
    for (const [role, handler] of Object.entries(HANDLERS)) {
      log(`bundling ${handler} and importing it in ${IMPORTS} fresh processes...`);
      const outfile = join(outDir, `${handler}.mjs`);
      await bundle(handler, outfile);
      const initMs: number[] = [];
      for (let i = 0; i < IMPORTS; i++) initMs.push(await importTime(outfile));
      figures[`coldStart.${role}.initMs`] = round(percentile(initMs, 50));
      figures[`bundle.${role}.bytes`] = (await stat(outfile)).size;
    }
    return figures;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

function bundle(handler: string, outfile: string) {
  const { format, target, minify, sourceMap, mainFields, banner } = HANDLER_BUNDLING;
  return build({
    entryPoints: [new URL(`../lambdas/handlers/${handler}.ts`, import.meta.url).pathname],
    outfile,
    bundle: true,
    platform: 'node',
    format,
    target,
    minify,
    sourcemap: sourceMap,
    mainFields: [...mainFields],
    banner: { js: banner },
    logLevel: 'error',
  });
}

async function importTime(bundlePath: string): Promise<number> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', IMPORT_TIMER], {
    env: {
      PATH: process.env.PATH,
      BENCH_BUNDLE: pathToFileURL(bundlePath).href,
      // What the deployed function is given; nothing is called, so the values only need to be present.
      AWS_REGION: 'us-east-1',
      [ENV.tableName]: 'bench-table',
      [ENV.deployment]: 'aws',
    },
  });
  return Number(stdout);
}
