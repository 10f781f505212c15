import { ENV, requireEnv } from '../config/env.js';
import { type DeliveryRecord, deliveryId } from '../domain/delivery.js';
import { type Job, toJobView } from '../domain/job.js';
import type { JobEvent } from '../domain/job-events.js';
import { isWebhookEventType, webhookBody, webhookId } from '../domain/webhook.js';
import {
  type DynamoDeliveryStore,
  type NewDelivery,
  deliveryStoreFromEnv,
  messageOf,
  type OverdueDelivery,
} from './dynamo-delivery-store.js';
import { WebhookQueue } from './webhook-queue.js';

/**
 * Puts deliveries on their way: the durable record first (in the table, with the job), then a
 * queue message that carries it. A message lost between the two is not a lost delivery: the
 * record stays pending, and a redelivered stream record or the sweep sends a message again.
 */
export class WebhookOutbox {
  constructor(
    private readonly deliveries: DynamoDeliveryStore,
    private readonly queue: WebhookQueue,
  ) {}

  /**
   * The delivery a job event calls for, if any: one per event, however often the stream hands
   * over the write. Returns whether a message was sent.
   */
  async enqueue(tenant: string, job: Job, event: JobEvent, ttl: number): Promise<boolean> {
    const delivery = deliveryFor(tenant, job, event);
    if (!delivery) return false;
    const { created, record } = await this.deliveries.create(delivery, ttl);
    // Seen before and never picked up: the first message may not have been sent. A second one is
    // harmless, since only one message can ever own the delivery.
    if (created || isUnclaimed(record)) {
      await this.queue.send(messageOf(record));
      return true;
    }
    return false;
  }

  /** A new round of attempts, due now, with the same webhook-id and body. */
  async replay(tenant: string, jobId: string, seq: number, now: Date): Promise<DeliveryRecord | undefined> {
    const record = await this.deliveries.replay(tenant, jobId, seq, now);
    if (record) await this.queue.send(messageOf(record));
    return record;
  }

  /**
   * An overdue delivery gets a fresh message, unless it moved since it was found overdue (or, but
   * for `staleLeases`, an attempt of it is in flight).
   */
  async requeue(overdue: OverdueDelivery, now: Date, staleLeases = false): Promise<boolean> {
    if (!(await this.deliveries.release(overdue, now, staleLeases))) return false;
    const { nextAttemptAt: _, ...message } = overdue;
    await this.queue.send(message);
    return true;
  }
}

/** The webhook delivery a job event calls for, if any (the job has a webhook and it announces this type). */
export function deliveryFor(tenant: string, job: Job, event: JobEvent): NewDelivery | undefined {
  if (!job.webhook || !isWebhookEventType(event.type)) return undefined;
  return {
    tenant,
    jobId: job.id,
    seq: event.seq,
    id: deliveryId(event.seq),
    webhookId: webhookId(job.id, event.seq),
    type: event.type,
    url: job.webhook.url,
    body: webhookBody(event.type, event.at, toJobView(job)),
    createdAt: event.at,
  };
}

const isUnclaimed = (d: DeliveryRecord) =>
  d.status === 'pending' && d.owner === undefined && d.attempts.length === 0;

export function webhookOutboxFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookOutbox {
  return new WebhookOutbox(deliveryStoreFromEnv(env), new WebhookQueue(requireEnv(ENV.webhookQueueUrl, env)));
}
