import { lookup as dnsLookup } from 'node:dns';
import type { IncomingHttpHeaders } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Deployment } from '../domain/webhook-url.js';
import { ipLiteralHost, isAddressAllowed } from '../domain/webhook-url.js';

/**
 * Outbound HTTP to URLs that someone else chose (a client's webhook, a page a model asked for),
 * which must never reach the network the service runs in. The URL itself is checked by the caller
 * (webhookUrlProblem); this checks every address actually connected to, follows no redirects,
 * bounds the exchange in time and the answer in size, and reports instead of throwing.
 */

/** The lookup refused an address; its message is what the caller reports. */
export class AddressNotAllowedError extends Error {
  override readonly name = 'AddressNotAllowedError';
  readonly code = 'ERR_ADDRESS_NOT_ALLOWED';
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
 * No keep-alive: a Lambda makes one such request per invocation or few, and is frozen in between,
 * so an idle socket would only go stale. The pool bound keeps the local stack's bursts polite.
 */
const AGENT_OPTIONS = { keepAlive: false, maxSockets: 32 };
const agents = { 'http:': new http.Agent(AGENT_OPTIONS), 'https:': new https.Agent(AGENT_OPTIONS) };

export interface SafeHttpOptions {
  deployment: Deployment;
  /** Injectable for tests; default dns.lookup. */
  lookup?: LookupFunction;
  /**
   * Which resolved addresses may be connected to; default isAddressAllowed for the deployment.
   * Tests substitute a policy that treats one loopback address as public, to observe where a
   * connection really lands.
   */
  allowAddress?: (address: string) => boolean;
}

export interface SafeHttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Bound on the whole exchange; once the status is in, a slow body still counts as an answer. */
  timeoutMs: number;
  /** The answer's body is read this far, then the exchange ends. */
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export type SafeHttpResult =
  | {
      answered: true;
      status: number;
      headers: IncomingHttpHeaders;
      body: Buffer;
      /** False when the body was cut at maxResponseBytes, by the timeout or by the connection. */
      complete: boolean;
    }
  | {
      answered: false;
      error: string;
      /** The address check refused the connection: the policy answered, not the network. */
      addressRefused?: true;
    };

export class SafeHttpClient {
  private readonly allowAddress: (address: string) => boolean;
  private readonly lookup: LookupFunction;

  constructor(options: SafeHttpOptions) {
    this.allowAddress = options.allowAddress ?? ((address) => isAddressAllowed(address, options.deployment));
    this.lookup = checkedLookup(options.lookup ?? (dnsLookup as LookupFunction), this.allowAddress);
  }

  request(request: SafeHttpRequest): Promise<SafeHttpResult> {
    const { url } = request;
    // Node connects to an IP literal without any lookup, so the check has to happen here.
    const literal = ipLiteralHost(url);
    if (literal !== undefined && !this.allowAddress(literal)) {
      return Promise.resolve({
        answered: false,
        error: new AddressNotAllowedError(literal).message,
        addressRefused: true,
      });
    }
    const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
    const transport = protocol === 'https:' ? https : http;

    return new Promise((resolve) => {
      let answer: Extract<SafeHttpResult, { answered: true }> | undefined;
      const chunks: Buffer[] = [];
      let received = 0;
      let settled = false;
      const finish = (outcome: SafeHttpResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
        req.destroy();
        resolve(outcome);
      };
      const answered = (complete: boolean) => {
        if (!answer) return undefined;
        const body = Buffer.concat(chunks);
        return { ...answer, body: body.subarray(0, request.maxResponseBytes), complete };
      };
      const timer = setTimeout(
        () => finish(answered(false) ?? { answered: false, error: `timeout after ${request.timeoutMs} ms` }),
        request.timeoutMs,
      );
      const onAbort = () => finish(answered(false) ?? { answered: false, error: 'aborted' });
      request.signal?.addEventListener('abort', onAbort, { once: true });

      const req = transport.request({
        protocol,
        hostname: literal ?? url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: request.headers,
        agent: agents[protocol],
        lookup: this.lookup,
      });
      req.on('response', (res) => {
        answer = {
          answered: true,
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.alloc(0),
          complete: false,
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          if (received > request.maxResponseBytes) finish(answered(false)!);
        });
        res.on('end', () => finish(answered(true)!));
        res.on('error', () => finish(answered(false)!));
        res.on('close', () => finish(answered(false)!));
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        finish(
          answered(false) ??
            (err instanceof AddressNotAllowedError
              ? { answered: false, error: err.message, addressRefused: true }
              : { answered: false, error: describe(err) }),
        ),
      );
      if (request.signal?.aborted) onAbort();
      req.end(request.body);
    });
  }
}
