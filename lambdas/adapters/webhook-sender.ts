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
  /** Why there was no usable answer, as the delivery log shows it to the client. */
  error?: string;
  /** The precise reason, for the operator's log only, when `error` is the collapsed one. */
  detail?: string;
  durationMs: number;
  retryAfterSeconds?: number;
}

/**
 * What a deployed stack tells a client when no answer came back. Refused, reset, unreachable, TLS
 * failures and timeouts all read the same: told apart, they would map which ports of a host
 * listen (refused at once) and which are filtered (a timeout), a port scan with the delivery log
 * as its output. The precise reason goes to the deliverer's log.
 */
export const NO_ANSWER = 'no answer from the receiver (connection failed or timed out)';

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
    if (!outcome.answered) {
      const reason = outcome.addressRefused ? { error: outcome.error } : this.noAnswer(outcome.error);
      return { ...reason, durationMs: durationMs() };
    }
    const status = outcome.status;
    const result: WebhookAttemptResult = { httpStatus: status, durationMs: durationMs() };
    if (status >= 300 && status <= 399) result.error = `redirect not followed (${status})`;
    if (status === 429 || status === 503) {
      const retryAfter = parseRetryAfter(headerValue(outcome.headers['retry-after']), new Date());
      if (retryAfter !== undefined) result.retryAfterSeconds = retryAfter;
    }
    return result;
  }

  /** The client sees the precise reason locally, and the collapsed one on a deployed stack. */
  private noAnswer(reason: string): { error: string; detail?: string } {
    return this.deployment === 'aws' ? { error: NO_ANSWER, detail: reason } : { error: reason };
  }
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
