import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../lambdas/local/stack.js';
import { benchAgent, BENCH_MODEL, startBenchModel } from './agent.js';
import { benchClient } from './client.js';
import { benchColdStart } from './cold-start.js';
import type { BenchContext, Figures } from './context.js';
import { costPer1kJobs } from './cost.js';
import { countDynamoRequests } from './ddb-counter.js';
import { benchEvents } from './events.js';
import { benchJob } from './job.js';
import { benchLimits } from './limits.js';
import { benchNoisyTenant } from './noisy.js';
import { benchPeerPowertools } from './peer-powertools.js';
import { benchSubmit } from './submit.js';
import { benchWebhooks } from './webhooks.js';

/**
 * `npm run bench [-- --json] [-- --quick]`: every figure is measured in this run, against one
 * local stack, each next to its baseline from the same run. Each module returns flat dotted keys.
 */
const args = new Set(process.argv.slice(2));
const asJson = args.has('--json');
const quick = args.has('--quick');
/** `--only=submit,job` runs just those modules (for iterating on one figure; the cost model needs them all). */
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const selected = (name: string) => only === undefined || only.includes(name);
const log = (...m: unknown[]) => {
  if (!asJson) console.error(...m);
};

// Fresh processes importing bundles: measured before the stack loads the machine.
const figures: Figures = selected('coldStart') ? { ...(await benchColdStart(log)) } : {};

const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-bench-'));
const apiKey = `ak_bench_${Date.now()}`;
// The assistant's provider: a scripted OpenAI-compatible server with a fixed latency (bench/agent.ts).
const model = await startBenchModel();
const stack = await startLocalStack({
  port: 0,
  dataDir,
  inMemory: true,
  quiet: true,
  // Handler logs go to stdout, which --json keeps for the one result object.
  env: {
    AGENT_JOBS_API_KEYS: `bench:${apiKey}`,
    // Modules poll hard: a request rate nothing reaches, and a token rate nothing reaches (the
    // assistant module's forty-odd jobs of 4,950 tokens would otherwise wait on the budget and
    // count its waits as their own steps). Running and queued bounds stay built-in (the
    // noisy-tenant module measures admission under them).
    AGENT_JOBS_DEFAULT_LIMITS: JSON.stringify({ requestsPerMinute: 1_000_000, tokensPerMinute: 100_000_000 }),
    POWERTOOLS_LOG_LEVEL: asJson ? 'SILENT' : 'WARN',
    AGENT_JOBS_OPENAI_BASE_URL: model.baseUrl,
    AGENT_JOBS_MODEL: BENCH_MODEL,
  },
});
try {
  // The same module instance the in-process handlers use, so the counter sees their requests.
  const { dynamoClient } = await import('../lambdas/adapters/dynamo-job-store.js');
  const ctx: BenchContext = {
    stack,
    apiKey,
    dynamo: dynamoClient,
    counter: countDynamoRequests(dynamoClient, stack.workflowDynamoDb),
    quick,
    log,
  };
  // Events before the throughput window: jobs still draining from it would delay the stream consumers.
  const benches = {
    submit: benchSubmit,
    peer: benchPeerPowertools,
    events: benchEvents,
    webhooks: benchWebhooks,
    job: benchJob,
    client: benchClient,
    limits: benchLimits,
    noisy: benchNoisyTenant,
    agent: (c: BenchContext) => benchAgent(c, model),
  };
  for (const [name, bench] of Object.entries(benches))
    if (selected(name)) Object.assign(figures, await bench(ctx));
  if (only === undefined) Object.assign(figures, costPer1kJobs(figures, stack.template));
} finally {
  await stack.stop();
  await model.close();
  await rm(dataDir, { recursive: true, force: true });
}

const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version };
if (asJson) console.log(JSON.stringify({ ...figures, quick, machine, at: new Date().toISOString() }));
else {
  console.table(Object.entries(figures).map(([figure, value]) => ({ figure, value })));
  console.log(
    `${quick ? 'quick run' : 'full run'} on ${machine.cpus} x ${machine.cpu}, Node ${machine.node}`,
  );
}
