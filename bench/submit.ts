import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchApi, echoJob } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { type DynamoCounts, quiescence, requestsDuring } from './ddb-counter.js';
import { jobsSettled } from './settle.js';
import { percentile, round } from './stats.js';
import {
  type ClientReply,
  type ClientRequest,
  emptySamples,
  type RoundResult,
  type RoundsResult,
  shuffled,
  SUBMIT_OPS,
  type SubmitClientConfig,
} from './submit-ops.js';

const WARM_ROUNDS = 20;
/** Fixed seeds: every run times the same sequence of orders. */
const [WARM_SEED, ISOLATED_SEED, LOADED_SEED] = [1, 1_000, 2_000];
/** Longer than the stream consumers' poll interval while busy, so a consumer about to run is waited for. */
const SETTLE_QUIET_MS = 200;

/**
 * DynamoDB requests per submit (with and without an Idempotency-Key) and per idempotent replay,
 * counted on the handlers' client; and submit latency through the local HTTP stack next to its
 * floors on the same store: a bare conditional PutItem of the item a submit writes (the floor of
 * a submit without a key) and a consistent GetItem followed by that PutItem (a submit with one).
 * A bare PutItem of a minimal item (keys and the request body) is timed too: the difference is
 * what the job item itself costs the table (its size and its two index entries).
 *
 * The samples come from a client in its own process, one op at a time, the ops of a round in an
 * order shuffled every round. Two regimes, reported separately:
 * - isolated (the target figures): each round starts once the jobs the previous one submitted have
 *   finished and the stream consumers are quiet. On AWS the submit function never shares a CPU
 *   with the workflow and stream consumers its jobs set off; here they share one event loop, so
 *   without this the submit would be timed while queued behind earlier jobs' workflows.
 * - loaded: rounds back to back, earlier jobs' workflows and stream consumers running in the
 *   stack's process meanwhile. Everything that crosses that event loop waits its turn, and a
 *   submit crosses it several times where a bare PutItem does not cross it at all.
 */
export async function benchSubmit(ctx: BenchContext): Promise<Figures> {
  const isolatedRounds = ctx.quick ? 30 : 200;
  const loadedRounds = ctx.quick ? 30 : 200;
  const api = benchApi(ctx.stack.url, ctx.apiKey);

  const tenant = ctx.stack.tenantKeys.find((t) => t.key === ctx.apiKey)!.tenant;
  const client = await forkClient(
    { url: ctx.stack.url, apiKey: ctx.apiKey, tenant, tableName: ctx.stack.tableName },
    ctx,
  );
  let keyed: DynamoCounts;
  let replay: DynamoCounts;
  let unkeyed: DynamoCounts;
  let isolated: RoundsResult;
  let loaded: RoundsResult;
  try {
    // Every op warms the same number of times, in the client and in the stack.
    await client.request<RoundsResult>({ kind: 'rounds', count: WARM_ROUNDS, tag: 'warm', seed: WARM_SEED });

    // After the warm-up, so the authorizer's key lookup (once per container and minute) is cached.
    ctx.log('counting DynamoDB requests per submit and per replay...');
    const key = `bench-${Date.now()}`;
    keyed = await requestsDuring(ctx.counter, () => api.submit(echoJob('counted'), key));
    replay = await requestsDuring(ctx.counter, () => api.submit(echoJob('counted'), key));
    unkeyed = await requestsDuring(ctx.counter, () => api.submit(echoJob('counted unkeyed')));
    await quiescence(ctx.counter);

    ctx.log(`timing ${isolatedRounds} isolated rounds (${SUBMIT_OPS.join(', ')}) from a client process...`);
    isolated = emptySamples();
    for (let i = 0; i < isolatedRounds; i++) {
      const sample = await client.request<RoundResult>({
        kind: 'round',
        order: shuffled(SUBMIT_OPS, ISOLATED_SEED + i),
        tag: `isolated ${i}`,
      });
      for (const op of SUBMIT_OPS) isolated[op].push(sample.ms[op]);
      await jobsSettled(ctx, sample.jobIds, SETTLE_QUIET_MS);
    }

    ctx.log(`timing ${loadedRounds} rounds back to back, earlier jobs running meanwhile...`);
    loaded = await client.request<RoundsResult>({
      kind: 'rounds',
      count: loadedRounds,
      tag: 'loaded',
      seed: LOADED_SEED,
    });
    // The benchmarks after this one start on a quiet stack.
    await quiescence(ctx.counter);
  } finally {
    client.stop();
  }

  const p = (samples: number[], pct: number) => round(percentile(samples, pct));
  const ratio = (a: number[], b: number[]) => round(percentile(a, 50) / percentile(b, 50));
  return {
    'submit.keyed.ddbWrites': keyed.writes,
    'submit.keyed.ddbWriteUnits': keyed.writeUnits,
    'submit.keyed.ddbReads': keyed.reads,
    'submit.keyed.ddbConsistentReads': keyed.consistentReads,
    'submit.unkeyed.ddbWrites': unkeyed.writes,
    'submit.unkeyed.ddbReads': unkeyed.reads,
    'replay.ddbWrites': replay.writes,
    'replay.ddbReads': replay.reads,
    'submit.p50Ms': p(isolated.submit, 50),
    'submit.p99Ms': p(isolated.submit, 99),
    'baseline.putItem.p50Ms': p(isolated.put, 50),
    'baseline.putItem.p99Ms': p(isolated.put, 99),
    'submit.overheadRatio': ratio(isolated.submit, isolated.put),
    'baseline.putItemMinimal.p50Ms': p(isolated.putMinimal, 50),
    'baseline.putItemMinimal.p99Ms': p(isolated.putMinimal, 99),
    'submit.minimalPutRatio': ratio(isolated.submit, isolated.putMinimal),
    'store.create.p50Ms': p(isolated.storeCreate, 50),
    'store.create.p99Ms': p(isolated.storeCreate, 99),
    'submit.storeCreateRatio': ratio(isolated.submit, isolated.storeCreate),
    'store.create.putItemRatio': ratio(isolated.storeCreate, isolated.put),
    'submit.keyed.p50Ms': p(isolated.keyed, 50),
    'submit.keyed.p99Ms': p(isolated.keyed, 99),
    'baseline.getPutItem.p50Ms': p(isolated.getPut, 50),
    'baseline.getPutItem.p99Ms': p(isolated.getPut, 99),
    'submit.keyed.overheadRatio': ratio(isolated.keyed, isolated.getPut),
    'submit.keyed.putItemRatio': ratio(isolated.keyed, isolated.put),
    'health.live.p50Ms': p(isolated.live, 50),
    'submit.samples': isolatedRounds,
    'submit.loaded.p50Ms': p(loaded.submit, 50),
    'submit.loaded.p99Ms': p(loaded.submit, 99),
    'baseline.putItem.loaded.p50Ms': p(loaded.put, 50),
    'baseline.putItem.loaded.p99Ms': p(loaded.put, 99),
    'submit.loaded.overheadRatio': ratio(loaded.submit, loaded.put),
    'submit.keyed.loaded.p50Ms': p(loaded.keyed, 50),
    'submit.keyed.loaded.overheadRatio': ratio(loaded.keyed, loaded.getPut),
    'health.live.loaded.p50Ms': p(loaded.live, 50),
    'submit.loaded.samples': loadedRounds,
  };
}

/**
 * Forks bench/submit-client.ts with the loader this process runs under and the handlers'
 * environment, so its DynamoDB client is configured exactly as theirs.
 */
async function forkClient(config: SubmitClientConfig, ctx: BenchContext) {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./submit-client.ts', import.meta.url)),
    [JSON.stringify(config)],
    {
      env: { ...process.env, ...ctx.stack.handlerEnv },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the submit client exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (reply: ClientReply) => {
        child.off('exit', onExit);
        if (reply.ok) resolve(reply.result);
        else reject(new Error(`the submit client failed: ${reply.error}`));
      });
    });
  await next();
  return {
    request: async <T>(req: ClientRequest): Promise<T> => {
      const reply = next();
      child.send(req);
      return (await reply) as T;
    },
    stop: () => child.disconnect(),
  };
}
