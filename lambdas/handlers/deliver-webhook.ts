import { createLogger } from '../config/logger.js';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type AttemptOutcome, deliveryStoreFromEnv } from '../adapters/dynamo-delivery-store.js';
import { DeadLetterQueue } from '../adapters/job-dlq.js';
import { type WebhookSecretStore, webhookSecretsFromEnv } from '../adapters/webhook-secrets.js';
import { WebhookSender } from '../adapters/webhook-sender.js';
import { WebhookQueue } from '../adapters/webhook-queue.js';
import { deploymentFromEnv, ENV, requireEnv } from '../config/env.js';
import { type DeliveryMessage, type DeliveryRecord, isDeliveryMessage } from '../domain/delivery.js';
import {
  attemptVerdict,
  type DeliveryAttempt,
  nextAttemptDelaySeconds,
  parseRetrySchedule,
} from '../domain/webhook.js';

const logger = createLogger();
const deliveries = deliveryStoreFromEnv();
const queue = new WebhookQueue(requireEnv(ENV.webhookQueueUrl));
/** A delivery given up on, with the attempt that ended it. */
type WebhookDeadLetter = DeliveryMessage & {
  deliveryId: string;
  webhookId: string;
  attempt: DeliveryAttempt;
};
const deadLetters = new DeadLetterQueue<WebhookDeadLetter>(requireEnv(ENV.webhookDlqUrl));
const sender = new WebhookSender({ deployment: deploymentFromEnv() });
const schedule = parseRetrySchedule(process.env[ENV.webhookRetrySchedule]);

/**
 * How long a claimed attempt keeps other messages off the delivery. Longer than the function's
 * timeout, so a lease only lapses when the attempt's invocation is gone.
 */
export const LEASE_SECONDS = 60;
/** A message back within this much of its due time is attempted now rather than hidden again. */
const EARLY_TOLERANCE_MS = 1000;

/** `done`: the message has served its purpose and is deleted. `later`: it stays, hidden until due. */
type Disposition = 'done' | 'later';

/**
 * One queue message: make the delivery's next attempt if it is due and this message owns it,
 * record it, and hide the message until the next attempt (or let it go when there is none).
 */
async function handle(record: SQSRecord, secrets: WebhookSecretStore): Promise<Disposition> {
  const message = parse(record.body);
  if (!message) {
    logger.error('webhook queue message is not a delivery; dropped', { messageId: record.messageId });
    return 'done';
  }
  const delivery = await deliveries.get(message.tenant, message.jobId, message.seq);
  // Gone with its job, finished, replayed since (a newer round has its own message), or owned by
  // another message: this one is a leftover.
  if (!delivery || delivery.status !== 'pending' || delivery.round !== message.round) return 'done';
  if (delivery.owner !== undefined && delivery.owner !== record.messageId) return 'done';

  // A round's first attempt is due the schedule's first delay after the round began (0: at once).
  const firstDelayMs = delivery.roundAttempts === 0 ? (schedule[0] ?? 0) * 1000 : 0;
  const dueInMs = Date.parse(delivery.nextAttemptAt ?? '') + firstDelayMs - Date.now();
  if (dueInMs > EARLY_TOLERANCE_MS) {
    await queue.hide(record.receiptHandle, dueInMs / 1000);
    return 'later';
  }
  const { messageId } = record;
  if (!(await deliveries.claim(message, delivery.roundAttempts, messageId, new Date(), LEASE_SECONDS))) {
    // Another message holds a live lease on this attempt; look again once it has lapsed.
    await queue.hide(record.receiptHandle, LEASE_SECONDS);
    return 'later';
  }
  const { attempt, outcome, delaySeconds, detail } = await attemptOnce(delivery, secrets);
  if (outcome.status === 'failed' && attempt.httpStatus !== 410) {
    // Before the record: a failed send leaves the delivery pending, and its message retries this.
    await deadLetters.send({ ...message, deliveryId: delivery.id, webhookId: delivery.webhookId, attempt });
  }
  // Hidden until the next attempt before the record: a process that stops between the two must not
  // leave the message invisible for the queue's whole visibility timeout (minutes) with nothing
  // else to retry the delivery. Unrecorded, the attempt's lease still marks it as interrupted.
  if (outcome.status === 'pending') await queue.hide(record.receiptHandle, delaySeconds);
  const recorded = await deliveries.record(
    message,
    delivery.roundAttempts,
    messageId,
    attempt,
    outcome,
    new Date(),
  );
  logger.info('webhook attempt', {
    deliveryId: delivery.id,
    jobId: delivery.jobId,
    tenant: delivery.tenant,
    host: hostOf(delivery.url),
    httpStatus: attempt.httpStatus,
    error: attempt.error,
    detail,
    durationMs: attempt.durationMs,
    status: outcome.status,
  });
  // Not recorded as this round's: a replay started a new round, whose own message carries on.
  return recorded && outcome.status === 'pending' ? 'later' : 'done';
}

/**
 * One POST and where it leaves the delivery: any 2xx delivers, 410 stops for good, anything else
 * is retried on the schedule (later if the receiver asked for it with Retry-After) until the
 * schedule runs out.
 */
async function attemptOnce(
  delivery: DeliveryRecord,
  secrets: WebhookSecretStore,
): Promise<{ attempt: DeliveryAttempt; outcome: AttemptOutcome; delaySeconds: number; detail?: string }> {
  const startedAt = new Date();
  const result = await sender.send({
    url: delivery.url,
    webhookId: delivery.webhookId,
    body: delivery.body,
    secrets: await secrets.signingSecrets(delivery.tenant, startedAt),
    timestamp: startedAt,
  });
  const attempt: DeliveryAttempt = {
    at: startedAt.toISOString(),
    ...(result.httpStatus === undefined ? {} : { httpStatus: result.httpStatus }),
    ...(result.error === undefined ? {} : { error: result.error }),
    durationMs: result.durationMs,
  };
  const detail = result.detail === undefined ? {} : { detail: result.detail };
  const verdict = attemptVerdict(result.httpStatus);
  if (verdict === 'delivered') return { attempt, outcome: { status: 'delivered' }, delaySeconds: 0 };
  if (verdict === 'gone') return { attempt, outcome: { status: 'failed' }, delaySeconds: 0 };
  const delay = nextAttemptDelaySeconds(schedule, delivery.roundAttempts + 1, result.retryAfterSeconds);
  if (delay === undefined) return { attempt, outcome: { status: 'failed' }, delaySeconds: 0, ...detail };
  const nextAttemptAt = new Date(Date.now() + delay * 1000).toISOString();
  return { attempt, outcome: { status: 'pending', nextAttemptAt }, delaySeconds: delay, ...detail };
}

function parse(body: string): DeliveryMessage | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return isDeliveryMessage(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Only the host is logged: webhook URLs often carry a token in their path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}

/**
 * Messages of a batch are independent deliveries, so they go out concurrently. A message that
 * must come back later, or whose handling failed (the table or the secret store was unreachable),
 * is reported as a batch item failure: SQS keeps it, and its redrive policy is the last resort.
 */
export const withSecrets =
  (secrets: WebhookSecretStore) =>
  async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const results = await Promise.allSettled(event.Records.map((record) => handle(record, secrets)));
    const batchItemFailures = event.Records.filter((record, i) => {
      const r = results[i]!;
      if (r.status === 'rejected') {
        logger.error('webhook delivery not handled; the message will come back', {
          error: r.reason as Error,
          messageId: record.messageId,
        });
        return true;
      }
      return r.value === 'later';
    }).map((r) => ({ itemIdentifier: r.messageId }));
    return { batchItemFailures };
  };

/** Deployed, the secrets are in Secrets Manager; the local stack builds the handler over its file store. */
export const handler = withSecrets(webhookSecretsFromEnv());
