import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { benchApi, echoJob } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { requestsDuring } from './ddb-counter.js';
import { percentile, round, timed } from './stats.js';

/**
 * DynamoDB requests per accepted submit and per idempotent replay, and submit latency through the
 * local HTTP stack next to its floor: one bare conditional PutItem of the same body on the same store.
 */
export async function benchSubmit(ctx: BenchContext): Promise<Figures> {
  const samples = ctx.quick ? 30 : 300;
  const api = benchApi(ctx.stack.url, ctx.apiKey);
  const barePut = (i: number) =>
    ctx.dynamo.send(
      new PutItemCommand({
        TableName: ctx.stack.tableName,
        Item: {
          PK: { S: `BENCH#${i}#${Date.now()}` },
          SK: { S: 'JOB' },
          body: { S: JSON.stringify(echoJob(`bench ${i}`)) },
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  for (let i = 0; i < 20; i++) await Promise.all([api.submit(echoJob(`warm ${i}`)), barePut(-i)]);

  ctx.log('counting DynamoDB requests per submit and per replay...');
  const key = `bench-${Date.now()}`;
  const submitCounts = await requestsDuring(ctx.counter, () => api.submit(echoJob('counted'), key));
  const replayCounts = await requestsDuring(ctx.counter, () => api.submit(echoJob('counted'), key));

  ctx.log(`timing ${samples} submits through HTTP next to ${samples} bare conditional PutItems...`);
  const submitMs: number[] = [];
  const putMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Interleaved so both see the same machine load (including executions the submits start).
    submitMs.push((await timed(() => api.submit(echoJob(`timed ${i}`)))).ms);
    putMs.push((await timed(() => barePut(i))).ms);
  }
  return {
    'submit.ddbWrites': submitCounts.writes,
    'submit.ddbReads': submitCounts.reads,
    'submit.ddbConsistentReads': submitCounts.consistentReads,
    'replay.ddbWrites': replayCounts.writes,
    'replay.ddbReads': replayCounts.reads,
    'submit.p50Ms': round(percentile(submitMs, 50)),
    'submit.p99Ms': round(percentile(submitMs, 99)),
    'baseline.putItem.p50Ms': round(percentile(putMs, 50)),
    'baseline.putItem.p99Ms': round(percentile(putMs, 99)),
    'submit.overheadRatio': round(percentile(submitMs, 50) / percentile(putMs, 50)),
    'submit.samples': samples,
  };
}
