import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startLocalStack } from '../lambdas/local/stack.js';
import { countDynamoRequests } from './ddb-counter.js';
import { percentile, round, timed } from './stats.js';

/**
 * `npm run bench [-- --json] [-- --quick]`: figures measured against the local stack in this
 * run, each next to its baseline from the same run.
 */
const args = new Set(process.argv.slice(2));
const asJson = args.has('--json');
const samples = args.has('--quick') ? 60 : 300;
const log = (...m: unknown[]) => {
  if (!asJson) console.error(...m);
};

const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-bench-'));
const benchKey = `ak_bench_${Date.now()}`;
const stack = await startLocalStack({
  port: 0,
  dataDir,
  inMemory: true,
  quiet: true,
  env: { AGENT_JOBS_API_KEYS: `bench:${benchKey}` },
});
// The same module instance the in-process handlers use, so the counter sees their requests.
const { dynamoClient } = await import('../lambdas/adapters/dynamo-job-store.js');
const counter = countDynamoRequests(dynamoClient);

const headers = { authorization: `Bearer ${benchKey}`, 'content-type': 'application/json' };
const jobBody = (i: number) =>
  JSON.stringify({ agent: 'echo', input: { message: `bench ${i}`, steps: 1, stepMs: 0 } });
const submit = async (i: number, key?: string) => {
  const res = await fetch(`${stack.url}/v1/jobs`, {
    method: 'POST',
    headers: key ? { ...headers, 'idempotency-key': key } : headers,
    body: jobBody(i),
  });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
};
const barePut = (i: number) =>
  dynamoClient.send(
    new PutItemCommand({
      TableName: stack.tableName,
      Item: { PK: { S: `BENCH#${i}` }, SK: { S: 'JOB' }, body: { S: jobBody(i) } },
      ConditionExpression: 'attribute_not_exists(PK)',
    }),
  );

/** Requests the submit path itself makes, measured one call at a time with nothing else in flight. */
async function requestsPerCall(fn: () => Promise<void>) {
  await new Promise((r) => setTimeout(r, 300));
  const before = counter.snapshot();
  await fn();
  return counter.since(before);
}

try {
  for (let i = 0; i < 20; i++) await Promise.all([submit(-i), barePut(-i - 1)]); // warm both paths

  log('counting DynamoDB requests per submit and per replay...');
  const key = `bench-${Date.now()}`;
  const submitCounts = await requestsPerCall(() => submit(1, key));
  const replayCounts = await requestsPerCall(() => submit(1, key));

  log(`timing ${samples} submits through HTTP next to ${samples} bare conditional PutItems...`);
  const submitMs: number[] = [];
  const putMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Interleaved so both see the same machine load (including executions the submits start).
    submitMs.push((await timed(() => submit(1000 + i))).ms);
    putMs.push((await timed(() => barePut(1000 + i))).ms);
  }
  const figures = {
    'submit.ddbWrites': submitCounts.writes,
    'submit.ddbReads': submitCounts.reads,
    'replay.ddbWrites': replayCounts.writes,
    'replay.ddbReads': replayCounts.reads,
    'submit.p50Ms': round(percentile(submitMs, 50)),
    'submit.p99Ms': round(percentile(submitMs, 99)),
    'baseline.putItem.p50Ms': round(percentile(putMs, 50)),
    'baseline.putItem.p99Ms': round(percentile(putMs, 99)),
    'submit.overheadRatio': round(percentile(submitMs, 50) / percentile(putMs, 50)),
    samples,
  };
  if (asJson) console.log(JSON.stringify(figures));
  else console.table(Object.entries(figures).map(([figure, value]) => ({ figure, value })));
} finally {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
}
