import { Webhook } from 'standardwebhooks';
import { parseRetryAfter, webhookSecretProblem } from '../domain/webhook.js';
import type { Deployment } from '../domain/webhook-url.js';
import { webhookUrlProblem } from '../domain/webhook-url.js';
import type { SafeHttpOptions } from './safe-http.js';
import { SafeHttpClient } from './safe-http.js';

export interface WebhookRequest {
  url: string;
  webhookId: string;
  body: string;
  secrets: readonly string[];
  timestamp: Date;
}

export interface WebhookAttemptResult {
  httpStatus?: number;
  error?: string;
  durationMs: number;
  retryAfterSeconds?: number;
}

export const WEBHOOK_USER_AGENT = 'agent-jobs-webhooks/1';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** A receiver's answer is only its status; the body is read this far so the exchange ends cleanly. */
const MAX_RESPONSE_BYTES = 4096;

/**
 * The webhook-signature header: one `v1,<base64 HMAC>` per secret, space-separated, so that during
 * a rotation's overlap a receiver verifying with either the old or the new secret accepts it.
 * Signing is standardwebhooks' own, not a reimplementation that could drift from what receivers run.
 */
export function signatureHeader(
  webhookId: string,
  timestamp: Date,
  body: string,
  secrets: readonly string[],
): string {
  if (secrets.length === 0) throw new Error('a webhook needs at least one signing secret');
  return secrets
    .map((secret, i) => {
      const problem = webhookSecretProblem(secret);
      if (problem) throw new Error(`signing secret ${i + 1} is not a valid webhook secret: ${problem}`);
      return new Webhook(secret).sign(webhookId, timestamp, body);
    })
    .join(' ');
}

export interface WebhookSenderOptions extends SafeHttpOptions {
  timeoutMs?: number;
}

/**
 * Sends one webhook attempt over node:http(s), with no redirects followed and a deadline on the
 * whole exchange. It reports what happened instead of throwing, so the caller records every attempt
 * the same way; only a programming error (no or malformed secrets) throws.
 */
export class WebhookSender {
  private readonly deployment: Deployment;
  private readonly timeoutMs: number;
  private readonly http: SafeHttpClient;

  constructor(options: WebhookSenderOptions) {
    this.deployment = options.deployment;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    this.http = new SafeHttpClient(options);
  }

  async send(request: WebhookRequest): Promise<WebhookAttemptResult> {
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    const signature = signatureHeader(request.webhookId, request.timestamp, request.body, request.secrets);
    // Checked again at send: the rules may have tightened since the job was submitted.
    const problem = webhookUrlProblem(request.url, this.deployment);
    if (problem) return { error: `url not allowed: ${problem}`, durationMs: durationMs() };
    const outcome = await this.http.request({
      url: new URL(request.url),
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(request.body, 'utf8')),
        'user-agent': WEBHOOK_USER_AGENT,
        'webhook-id': request.webhookId,
        'webhook-timestamp': String(Math.floor(request.timestamp.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body: request.body,
      timeoutMs: this.timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
    if (!outcome.answered) return { error: outcome.error, durationMs: durationMs() };
    const status = outcome.status;
    const result: WebhookAttemptResult = { httpStatus: status, durationMs: durationMs() };
    if (status >= 300 && status <= 399) result.error = `redirect not followed (${status})`;
    if (status === 429 || status === 503) {
      const retryAfter = parseRetryAfter(headerValue(outcome.headers['retry-after']), new Date());
      if (retryAfter !== undefined) result.retryAfterSeconds = retryAfter;
    }
    return result;
  }
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
