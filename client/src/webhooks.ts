import { Webhook } from 'standardwebhooks';
import type { Job } from './types.js';

export { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** What agent-jobs POSTs to a job's webhook URL. */
export interface WebhookEvent {
  type: 'job.succeeded' | 'job.failed' | 'job.cancelled' | 'job.input_required';
  timestamp: string;
  /** The job; an event over 20 KB carries a thin job with `truncated: true` (fetch it for the rest). */
  data: Job & { truncated?: true };
}

/**
 * Checks a webhook delivery with the Standard Webhooks library: the `webhook-signature` over the exact
 * body received, and a `webhook-timestamp` within 5 minutes. Returns the parsed event; throws
 * WebhookVerificationError otherwise. `headers` as Node's `req.headers`, a fetch `Headers`, or a record.
 */
export function verifyWebhook(
  body: string,
  headers: Headers | Record<string, string | string[] | undefined>,
  secret: string,
): WebhookEvent {
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers);
  const flat = Object.fromEntries(
    entries.flatMap(([name, value]) =>
      value === undefined ? [] : [[name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value]],
    ),
  );
  return new Webhook(secret).verify(body, flat) as WebhookEvent;
}
