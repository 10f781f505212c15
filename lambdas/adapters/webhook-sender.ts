import { lookup as dnsLookup } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { parseRetryAfter, webhookSecretProblem } from '../domain/webhook.js';
import type { Deployment } from '../domain/webhook-url.js';
import { ipLiteralHost, isAddressAllowed, webhookUrlProblem } from '../domain/webhook-url.js';

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

/** The lookup refused an address; its message is what the delivery record shows. */
export class AddressNotAllowedError extends Error {
  override readonly name = 'AddressNotAllowedError';
  readonly code = 'ERR_WEBHOOK_ADDRESS_NOT_ALLOWED';
  constructor(readonly address: string) {
    super(`address not allowed: ${address}`);
  }
}

/**
 * The resolver with the address check inside it. Node connects to exactly the addresses a lookup
 * hands back, so checking them here, and nowhere else, means a name that answers differently on a
 * second query (DNS rebinding) cannot slip a private address past the check: there is no second
 * query. Node asks for every address (`all: true`) when it races IPv4 and IPv6; one refused
 * address refuses the attempt, since Node may try any of them.
 */
function checkedLookup(lookup: LookupFunction, allowed: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (err, address, family) => {
      if (err) return callback(err, address, family);
      const addresses = typeof address === 'string' ? [address] : address.map((a) => a.address);
      const refused = addresses.find((a) => !allowed(a));
      if (refused !== undefined) return callback(new AddressNotAllowedError(refused), address, family);
      callback(null, address, family);
    });
  };
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed temporarily',
  ETIMEDOUT: 'connect timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/**
 * A short reason built from the error's code only: Node's messages can quote the host and TLS
 * details, and a URL's query may carry the receiver's own token. Nothing here ever held a secret.
 */
function describe(err: NodeJS.ErrnoException): string {
  const code = typeof err.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(err.code) ? err.code : undefined;
  if (code === undefined) return 'request failed';
  const known = NETWORK_ERRORS[code];
  if (known) return known;
  if (code.startsWith('HPE_')) return `invalid HTTP response (${code})`;
  if (code.startsWith('ERR_TLS_') || /CERT|SSL|SIGNATURE/.test(code)) return `TLS error (${code})`;
  return `request failed (${code})`;
}

/**
 * No keep-alive: a Lambda sends one webhook per invocation and is frozen in between, so an idle
 * socket would only go stale. The pool bound keeps the local stack's bursts polite to receivers.
 */
const AGENT_OPTIONS = { keepAlive: false, maxSockets: 32 };
const agents = { 'http:': new http.Agent(AGENT_OPTIONS), 'https:': new https.Agent(AGENT_OPTIONS) };

export interface WebhookSenderOptions {
  deployment: Deployment;
  timeoutMs?: number;
  /** Injectable for tests; default dns.lookup. */
  lookup?: LookupFunction;
  /**
   * Which resolved addresses may be connected to; default isAddressAllowed for the deployment.
   * Tests substitute a policy that treats one loopback address as public, to observe where a
   * connection really lands.
   */
  allowAddress?: (address: string) => boolean;
}

/**
 * Sends one webhook attempt over node:http(s), with no redirects followed and a deadline on the
 * whole exchange. It reports what happened instead of throwing, so the caller records every attempt
 * the same way; only a programming error (no or malformed secrets) throws.
 */
export class WebhookSender {
  private readonly deployment: Deployment;
  private readonly timeoutMs: number;
  private readonly allowAddress: (address: string) => boolean;
  private readonly lookup: LookupFunction;

  constructor(options: WebhookSenderOptions) {
    this.deployment = options.deployment;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    this.allowAddress = options.allowAddress ?? ((address) => isAddressAllowed(address, options.deployment));
    this.lookup = checkedLookup(options.lookup ?? (dnsLookup as LookupFunction), this.allowAddress);
  }

  async send(request: WebhookRequest): Promise<WebhookAttemptResult> {
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    const signature = signatureHeader(request.webhookId, request.timestamp, request.body, request.secrets);
    // Checked again at send: the rules may have tightened since the job was submitted.
    const problem = webhookUrlProblem(request.url, this.deployment);
    if (problem) return { error: `url not allowed: ${problem}`, durationMs: durationMs() };
    const url = new URL(request.url);
    // Node connects to an IP literal without any lookup, so the check has to happen here.
    const literal = ipLiteralHost(url);
    if (literal !== undefined && !this.allowAddress(literal)) {
      return { error: new AddressNotAllowedError(literal).message, durationMs: durationMs() };
    }
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(request.body, 'utf8')),
      'user-agent': WEBHOOK_USER_AGENT,
      'webhook-id': request.webhookId,
      'webhook-timestamp': String(Math.floor(request.timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    };
    const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
    const transport = protocol === 'https:' ? https : http;

    return new Promise((resolve) => {
      let result: Omit<WebhookAttemptResult, 'durationMs'> | undefined;
      let settled = false;
      const finish = (outcome: Omit<WebhookAttemptResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve({ ...outcome, durationMs: durationMs() });
      };
      // Once the status is in, a receiver that dawdles over its body has still answered.
      const timer = setTimeout(
        () => finish(result ?? this.noAnswer(`timeout after ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );

      const req = transport.request({
        protocol,
        hostname: literal ?? url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        agent: agents[protocol],
        lookup: this.lookup,
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        result = { httpStatus: status };
        if (status >= 300 && status <= 399) result.error = `redirect not followed (${status})`;
        if (status === 429 || status === 503) {
          const retryAfter = parseRetryAfter(res.headers['retry-after'], new Date());
          if (retryAfter !== undefined) result.retryAfterSeconds = retryAfter;
        }
        const answered = result;
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) finish(answered);
        });
        res.on('end', () => finish(answered));
        res.on('error', () => finish(answered));
        res.on('close', () => finish(answered));
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        finish(
          result ??
            (err instanceof AddressNotAllowedError ? { error: err.message } : this.noAnswer(describe(err))),
        ),
      );
      req.end(request.body);
    });
  }

  /** The client sees the precise reason locally, and the collapsed one on a deployed stack. */
  private noAnswer(reason: string): { error: string; detail?: string } {
    return this.deployment === 'aws' ? { error: NO_ANSWER, detail: reason } : { error: reason };
  }
}
