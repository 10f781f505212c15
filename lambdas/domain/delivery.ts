import type { DeliveryAttempt, DeliveryStatus, WebhookEventType } from './webhook.js';

/**
 * A webhook delivery: one job event sent to the job's webhook URL, with every attempt made. A job
 * event has at most one delivery, so the event's seq identifies it within the job.
 */
export interface Delivery {
  id: string;
  webhookId: string;
  type: WebhookEventType;
  url: string;
  status: DeliveryStatus;
  /** The latest attempts, at most MAX_KEPT_ATTEMPTS, oldest first. */
  attempts: DeliveryAttempt[];
  /** Every attempt ever made, including those no longer kept in `attempts`. */
  attemptCount: number;
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * The scheduling state behind a delivery, never shown to clients. A replay starts a new `round`;
 * `roundAttempts` is the position in the retry schedule within it. `owner` is the queue message
 * that carries the delivery (any other message for it is a stale duplicate) and `leaseUntil` keeps
 * a second consumer off an attempt in flight.
 */
export interface DeliveryRecord extends Delivery {
  tenant: string;
  jobId: string;
  seq: number;
  /** The exact body that is signed and sent: a replay sends the same bytes under the same webhook-id. */
  body: string;
  round: number;
  roundAttempts: number;
  owner?: string;
  leaseUntil?: string;
}

/** What a queue message names: the delivery and the round it was sent for. */
export interface DeliveryMessage {
  tenant: string;
  jobId: string;
  seq: number;
  round: number;
}

/**
 * Attempts a delivery keeps: every round is bounded by the retry schedule, but replays add rounds,
 * and the delivery lives in one item of bounded size. Older attempts are dropped; the count stays.
 */
export const MAX_KEPT_ATTEMPTS = 20;

/** Replays a client may start per delivery within one window (each sends the event again). */
export const REPLAY_LIMIT = { perWindow: 5, windowSeconds: 3600 } as const;

const ID_PREFIX = 'dlv_';

export const deliveryId = (seq: number) => `${ID_PREFIX}${seq}`;

/** The event seq a delivery id names, or undefined for anything that is not one. */
export function deliverySeq(id: string): number | undefined {
  if (!id.startsWith(ID_PREFIX)) return undefined;
  const digits = id.slice(ID_PREFIX.length);
  if (!/^[1-9]\d{0,9}$/.test(digits)) return undefined;
  return Number(digits);
}

export function toDeliveryView(d: Delivery) {
  return {
    id: d.id,
    webhookId: d.webhookId,
    type: d.type,
    url: d.url,
    status: d.status,
    attempts: d.attempts,
    attemptCount: d.attemptCount ?? d.attempts.length,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : null,
  };
}
export type DeliveryView = ReturnType<typeof toDeliveryView>;

/** Whether a queue message is well formed; anything else is dropped as poison, never retried. */
export function isDeliveryMessage(value: unknown): value is DeliveryMessage {
  const m = value as Partial<DeliveryMessage> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.tenant === 'string' &&
    typeof m.jobId === 'string' &&
    Number.isInteger(m.seq) &&
    Number.isInteger(m.round)
  );
}
