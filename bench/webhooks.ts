import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDeliveryStore } from '../lambdas/adapters/dynamo-delivery-store.js';
import { generateWebhookSecret } from '../lambdas/adapters/webhook-secrets.js';
import { WebhookSender } from '../lambdas/adapters/webhook-sender.js';
import { WebhookQueue } from '../lambdas/adapters/webhook-queue.js';
import { ENV } from '../lambdas/config/env.js';
import { deliveryId } from '../lambdas/domain/delivery.js';
import { newJobId } from '../lambdas/domain/idempotency.js';
import { webhookId } from '../lambdas/domain/webhook.js';
import { benchApi } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { runConcurrently } from './pool.js';
import { percentile, round, timed } from './stats.js';

/** A local receiver that answers 200 at once and tells when the n-th request arrived. */
async function startReceiver() {
  const arrivals: { at: number; body: string }[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      arrivals.push({ at: Date.now(), body });
      res.writeHead(200).end();
      for (const w of waiters.filter((w) => arrivals.length >= w.count)) w.resolve();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    arrivals,
    reached: (count: number, timeoutMs = 120_000) =>
      new Promise<void>((resolve, reject) => {
        if (arrivals.length >= count) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${arrivals.length} of ${count}`)),
          timeoutMs,
        );
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
      }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * Webhooks in the local stack. Latency: from a job's terminal write (its `completedAt`, carried in
 * the delivered body) to the receiver getting the first attempt: stream, notifier, queue,
 * deliverer. Throughput: deliveries per second the deliverer sustains when many are queued at
 * once, next to the same number of signed POSTs made directly from here at the same concurrency.
 */
export async function benchWebhooks(ctx: BenchContext): Promise<Figures> {
  const receiver = await startReceiver();
  try {
    const jobs = ctx.quick ? 10 : 40;
    ctx.log(`timing ${jobs} webhooks from the terminal write to the receiver...`);
    const api = benchApi(ctx.stack.url, ctx.apiKey);
    await runConcurrently(jobs, 4, (i) =>
      api.submit({
        agent: 'echo',
        input: { message: `hook-${i}`, steps: 1, stepMs: 0 },
        webhook: { url: receiver.url },
      }),
    );
    await receiver.reached(jobs);
    const latencies = receiver.arrivals.map(({ at, body }) => {
      const { data } = JSON.parse(body) as { data: { completedAt: string } };
      return at - Date.parse(data.completedAt);
    });

    const count = ctx.quick ? 100 : 500;
    ctx.log(`queueing ${count} deliveries at once for the deliverer...`);
    const deliveries = new DynamoDeliveryStore(ctx.stack.tableName);
    const queue = new WebhookQueue(ctx.stack.handlerEnv[ENV.webhookQueueUrl]!);
    const ttl = Math.floor(Date.now() / 1000) + 3600;
    const jobId = newJobId();
    const body = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: {} });
    // Records first (not timed), then every message at once: the deliverer's rate, not the notifier's.
    const records = await runConcurrently(count, 16, async (i) => {
      const seq = i + 1;
      const createdAt = new Date().toISOString();
      const d = { tenant: 'bench', jobId, seq, id: deliveryId(seq), webhookId: webhookId(jobId, seq) };
      return (
        await deliveries.create({ ...d, type: 'job.succeeded', url: receiver.url, body, createdAt }, ttl)
      ).record;
    });
    const before = receiver.arrivals.length;
    const pipeline = await timed(async () => {
      await runConcurrently(count, 16, async (i) => {
        const r = records[i]!;
        if (r.status !== 'fulfilled') throw r.reason;
        await queue.send({ tenant: 'bench', jobId, seq: r.value.seq, round: 0 });
      });
      await receiver.reached(before + count);
    });

    ctx.log(`the same ${count} signed POSTs made directly...`);
    const sender = new WebhookSender({ deployment: 'local' });
    const secret = generateWebhookSecret();
    const direct = await timed(() =>
      runConcurrently(count, 16, (i) =>
        sender.send({
          url: receiver.url,
          webhookId: webhookId(jobId, i + 1),
          body,
          secrets: [secret],
          timestamp: new Date(),
        }),
      ),
    );
    const pipelineRate = count / (pipeline.ms / 1000);
    const directRate = count / (direct.ms / 1000);
    return {
      'webhook.latency.p50Ms': round(percentile(latencies, 50)),
      'webhook.latency.p99Ms': round(percentile(latencies, 99)),
      'webhook.latency.samples': latencies.length,
      'webhook.deliveriesPerSecond': round(pipelineRate, 1),
      'webhook.directPostsPerSecond': round(directRate, 1),
      'webhook.deliveryRateRatio': round(pipelineRate / directRate),
    };
  } finally {
    await receiver.close();
  }
}
