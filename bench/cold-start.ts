import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import {
  HANDLER_BUNDLING,
  HANDLER_NODE_OPTIONS,
  VALUES_CLIENT,
  valuesClientOptions,
} from '../lib/constructs/handler-bundling.js';
import { ENV } from '../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../lambdas/config/routes.js';
import type { Figures } from './context.js';
import { percentile, round } from './stats.js';

const run = promisify(execFile);
/** Rounds; in each, every role is imported once in a fresh process. */
const IMPORTS = 25;
const handlerEntry = (file: string) => new URL(`../lambdas/handlers/${file}.ts`, import.meta.url).pathname;
/** The bench names each handler by its role; `floor` only loads the DynamoDB client. */
const ENTRIES = {
  submit: handlerEntry('create-job'),
  agentStep: handlerEntry(INTERNAL_HANDLERS.agentStep),
  floor: new URL('./floor-handler.ts', import.meta.url).pathname,
} as const;
type Role = keyof typeof ENTRIES;

/** Times only the module's import (a Lambda's init phase), not Node's own start. */
const IMPORT_TIMER =
  'const t = performance.now(); await import(process.env.BENCH_BUNDLE); ' +
  'process.stdout.write(String(performance.now() - t));';

/**
 * Each handler bundled exactly as the CDK stack bundles it, then imported in a fresh Node process
 * started with the deployed functions' NODE_OPTIONS (source maps are parsed at load), in rounds
 * where the roles take turns: median init time and the bundle's size. `initRatio` is a handler's
 * init over the floor's, the figure that stays comparable across machines and runs: the median of
 * the rounds' ratios, each of two imports made one after the other, so a busy spell of the shared machine
 * weighs on both sides of a ratio rather than on one role's samples. `loadAverage` is the machine's
 * one-minute load when the imports began. Needs no running stack.
 */
export async function benchColdStart(log: (...m: unknown[]) => void): Promise<Figures> {
  const outDir = await mkdtemp(join(tmpdir(), 'agent-jobs-bundles-'));
  try {
    const roles = Object.keys(ENTRIES) as Role[];
    const outfiles = Object.fromEntries(roles.map((role) => [role, join(outDir, `${role}.mjs`)]));
    log(`bundling ${roles.join(', ')} and importing each in ${IMPORTS} fresh processes...`);
    for (const role of roles) await bundle(ENTRIES[role], outfiles[role]!);
    // Shipped next to the bundles and loaded on first use, never at init.
    await build(valuesClientOptions(fileURLToPath(new URL('..', import.meta.url)), outDir));
    const load = loadavg()[0]!;
    const initMs = Object.fromEntries(roles.map((role) => [role, [] as number[]]));
    // The floor sits between the handlers and the order turns around each round, so every handler's
    // import is next to a floor import and neither goes first more often.
    const order: Role[] = ['submit', 'floor', 'agentStep'];
    for (let i = 0; i < IMPORTS; i++)
      for (const role of i % 2 ? order.toReversed() : order)
        initMs[role]!.push(await importTime(outfiles[role]!));
    const median = (role: Role) => percentile(initMs[role]!, 50);
    const roundRatios = (role: Role) => initMs[role]!.map((ms, i) => ms / initMs.floor![i]!);
    const figures: Figures = { 'coldStart.loadAverage': round(load) };
    for (const role of roles) {
      figures[`coldStart.${role}.initMs`] = round(median(role));
      figures[`bundle.${role}.bytes`] = (await stat(outfiles[role]!)).size;
    }
    figures['bundle.valuesClient.bytes'] = (await stat(join(outDir, VALUES_CLIENT.outfile))).size;
    for (const role of roles.filter((r) => r !== 'floor'))
      figures[`coldStart.${role}.initRatio`] = round(percentile(roundRatios(role), 50));
    return figures;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

function bundle(entry: string, outfile: string) {
  const { format, target, minify, sourceMap, sourcesContent, mainFields, banner } = HANDLER_BUNDLING;
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format,
    target,
    minify,
    sourcemap: sourceMap,
    sourcesContent,
    mainFields: [...mainFields],
    external: [...HANDLER_BUNDLING.externalModules],
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
      NODE_OPTIONS: HANDLER_NODE_OPTIONS,
      AWS_REGION: 'us-east-1',
      [ENV.tableName]: 'bench-table',
      [ENV.deployment]: 'aws',
    },
  });
  return Number(stdout);
}
