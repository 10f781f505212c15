import { setTimeout as sleep } from 'node:timers/promises';
import { EventSource, type FetchLike } from 'eventsource';
import { DynamoJobStore } from '../lambdas/adapters/dynamo-job-store.js';
import { newJobId } from '../lambdas/domain/idempotency.js';
import { newJob } from '../lambdas/domain/job.js';
import { liveExpiry } from '../lambdas/domain/retention.js';
import { benchApi } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { percentile, round } from './stats.js';

export const TERMINAL = ['job.succeeded', 'job.failed', 'job.cancelled'];
/** The stream's idle backoff tops out within a few seconds; reads are counted after it settles. */
const IDLE_SETTLE_MS = 5_000;

export function openStream(ctx: BenchContext, id: string) {
  const authorized: FetchLike = (url, init) =>
    fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${ctx.apiKey}` } });
  return new EventSource(`${ctx.stack.url}/v1/jobs/${id}/stream`, { fetch: authorized });
}

/**
 * Live events in the local stack: how long a progress report takes to reach an SSE client
 * (from the write that recorded it, whose time the event carries as `at`, to the client's
 * receipt: stream consumer, log append, the stream's next read), and what an open stream on a
 * job where nothing happens costs in DynamoDB reads.
 */
export async function benchEvents(ctx: BenchContext): Promise<Figures> {
  const steps = ctx.quick ? 15 : 50;
  ctx.log(`timing ${steps} progress events from the write to an SSE client...`);
  const api = benchApi(ctx.stack.url, ctx.apiKey);
  const job = await api.submit({ agent: 'echo', input: { message: 'sse', steps, stepMs: 150 } });
  const latencies: number[] = [];
  const source = openStream(ctx, job.id);
  await new Promise<void>((resolve, reject) => {
    source.addEventListener('job.progress', (e) => {
      latencies.push(Date.now() - Date.parse((JSON.parse(e.data) as { at: string }).at));
    });
    for (const type of TERMINAL) source.addEventListener(type, () => resolve());
    source.addEventListener('error', (e) => {
      if (source.readyState === EventSource.CLOSED) reject(new Error(`stream closed: ${e.message}`));
    });
  }).finally(() => source.close());

  const windowMs = ctx.quick ? 8_000 : 60_000;
  ctx.log(`counting DynamoDB reads of one idle open stream over ${windowMs / 1000} s...`);
  // A running job with no execution behind it: nothing will ever happen to it.
  const now = new Date();
  const idle = newJob(
    newJobId(),
    'bench',
    { agent: 'echo', input: {}, timeoutSeconds: 900 },
    now,
    liveExpiry(now, 900),
  );
  await new DynamoJobStore(ctx.stack.tableName).create({ ...idle, status: 'running' }, 'bench', now);
  const idleStream = openStream(ctx, idle.id);
  try {
    await sleep(IDLE_SETTLE_MS);
    const before = ctx.counter.snapshot();
    await sleep(windowMs);
    const reads = ctx.counter.since(before).reads;
    return {
      'sse.latency.p50Ms': round(percentile(latencies, 50)),
      'sse.latency.p99Ms': round(percentile(latencies, 99)),
      'sse.latency.samples': latencies.length,
      'sse.idleReadsPerMinute': round((reads * 60_000) / windowMs),
    };
  } finally {
    idleStream.close();
  }
}
