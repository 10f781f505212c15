import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../../lambdas/adapters/webhook-secrets.js';
import type { WebhookRequest } from '../../../lambdas/adapters/webhook-sender.js';
import {
  NO_ANSWER,
  signatureHeader,
  WEBHOOK_USER_AGENT,
  WebhookSender,
} from '../../../lambdas/adapters/webhook-sender.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The address the client dialled: which of several listening addresses the connection reached. */
  localAddress: string;
}

interface TestServer {
  port: number;
  received: Received[];
}

const servers: ReturnType<typeof createServer>[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A receiver on a loopback address; `respond` decides the answer (or none). */
async function startServer(
  respond: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok'),
  host = '127.0.0.1',
  port = 0,
): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        localAddress: req.socket.localAddress ?? '',
      });
      respond(req, res);
    });
  });
  servers.push(server);
  server.listen(port, host);
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, received };
}

const BODY = JSON.stringify({
  type: 'job.succeeded',
  timestamp: '2026-03-01T12:00:00.000Z',
  data: { id: 'job_1' },
});

function request(url: string, overrides: Partial<WebhookRequest> = {}): WebhookRequest {
  return {
    url,
    webhookId: 'msg_job_1_4',
    body: BODY,
    secrets: [generateWebhookSecret()],
    timestamp: new Date(),
    ...overrides,
  };
}

/** A resolver answering `answers` in turn (the last one repeats), in the shape Node asked for. */
function fakeLookup(...answers: string[]): LookupFunction & { calls: number } {
  const lookup = ((_hostname, options, callback) => {
    const address = answers[Math.min(lookup.calls, answers.length - 1)]!;
    lookup.calls += 1;
    const family = address.includes(':') ? 6 : 4;
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction & { calls: number };
  lookup.calls = 0;
  return lookup;
}

describe('signatureHeader', () => {
  it('is standardwebhooks’ signature, one per secret, space-separated', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()];
    const at = new Date();
    expect(signatureHeader('msg_1', at, BODY, [a])).toBe(new Webhook(a).sign('msg_1', at, BODY));
    expect(signatureHeader('msg_1', at, BODY, [a, b])).toBe(
      `${new Webhook(a).sign('msg_1', at, BODY)} ${new Webhook(b).sign('msg_1', at, BODY)}`,
    );
  });

  it('refuses to sign without a usable secret, and never quotes one', () => {
    expect(() => signatureHeader('msg_1', new Date(), BODY, [])).toThrow(/at least one/);
    const malformed = 'whsec_c2hvcnQ=';
    expect(() => signatureHeader('msg_1', new Date(), BODY, [malformed])).toThrow(/secret 1 is not a valid/);
    try {
      signatureHeader('msg_1', new Date(), BODY, [malformed]);
    } catch (err) {
      expect((err as Error).message).not.toContain('c2hvcnQ');
    }
  });
});

describe('WebhookSender', () => {
  it('POSTs the body with Standard Webhooks headers that verify with every secret of an overlap', async () => {
    const server = await startServer();
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
    const sender = new WebhookSender({ deployment: 'local' });
    const timestamp = new Date();
    const result = await sender.send(
      request(`http://127.0.0.1:${server.port}/hooks/agent?x=1`, { secrets: [current, previous], timestamp }),
    );

    expect(result.httpStatus).toBe(200);
    expect(result.error).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const [got] = server.received;
    expect(got).toMatchObject({ method: 'POST', url: '/hooks/agent?x=1', body: BODY });
    expect(got!.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(BODY)),
      'user-agent': WEBHOOK_USER_AGENT,
      'webhook-id': 'msg_job_1_4',
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    });
    const headers = got!.headers as Record<string, string>;
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [current, previous]) {
      expect(new Webhook(secret).verify(got!.body, headers)).toEqual(JSON.parse(BODY));
    }
    expect(() => new Webhook(generateWebhookSecret()).verify(got!.body, headers)).toThrow(
      WebhookVerificationError,
    );
  });

  it('gives up after the timeout when the receiver never answers', async () => {
    const server = await startServer(() => undefined);
    const sender = new WebhookSender({ deployment: 'local', timeoutMs: 200 });
    const result = await sender.send(request(`http://127.0.0.1:${server.port}/slow`));
    expect(result).toMatchObject({ error: 'timeout after 200 ms' });
    expect(result.httpStatus).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
  });

  it('does not follow a redirect, and records it as a failed attempt', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(req.url === '/start' ? 302 : 200, { location: '/elsewhere' }).end();
    });
    const sender = new WebhookSender({ deployment: 'local' });
    const result = await sender.send(request(`http://127.0.0.1:${server.port}/start`));
    expect(result).toMatchObject({ httpStatus: 302, error: 'redirect not followed (302)' });
    expect(server.received.map((r) => r.url)).toEqual(['/start']);
  });

  it('reports 410, and Retry-After on 429 and 503 only', async () => {
    const answers: Record<string, [number, Record<string, string>]> = {
      '/gone': [410, {}],
      '/busy': [429, { 'retry-after': '120' }],
      '/down': [503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }],
      '/broken': [500, { 'retry-after': '120' }],
    };
    const server = await startServer((req, res) => {
      const [status, headers] = answers[req.url ?? '']!;
      res.writeHead(status, headers).end();
    });
    const sender = new WebhookSender({ deployment: 'local' });
    const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

    expect(await sender.send(request(url('/gone')))).toMatchObject({ httpStatus: 410 });
    expect(await sender.send(request(url('/busy')))).toMatchObject({
      httpStatus: 429,
      retryAfterSeconds: 120,
    });
    const down = await sender.send(request(url('/down')));
    expect(down.httpStatus).toBe(503);
    expect(down.retryAfterSeconds).toBeGreaterThanOrEqual(58);
    expect(down.retryAfterSeconds).toBeLessThanOrEqual(60);
    const broken = await sender.send(request(url('/broken')));
    expect(broken).toMatchObject({ httpStatus: 500 });
    expect(broken.retryAfterSeconds).toBeUndefined();
  });

  it('reads only the start of a large answer', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(1 << 20));
      // Never ends: the sender must not wait for the rest.
    });
    const sender = new WebhookSender({ deployment: 'local', timeoutMs: 5000 });
    const result = await sender.send(request(`http://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ httpStatus: 200 });
    expect(result.error).toBeUndefined();
    expect(result.durationMs).toBeLessThan(4000);
  });

  it('reports a refused connection in a few words', async () => {
    const server = await startServer();
    const port = server.port;
    const [open] = servers.splice(0);
    open!.close();
    await once(open!, 'close');
    const result = await new WebhookSender({ deployment: 'local' }).send(
      request(`http://127.0.0.1:${port}/`),
    );
    expect(result).toMatchObject({ error: 'connection refused' });
  });

  describe('on a deployed stack', () => {
    it.each(['127.0.0.1', '10.0.0.7', '169.254.169.254', '::1', '::ffff:127.0.0.1', 'fd00:ec2::254'])(
      'refuses a name that resolves to %s',
      async (address) => {
        const lookup = fakeLookup(address);
        const sender = new WebhookSender({ deployment: 'aws', lookup, timeoutMs: 2000 });
        const result = await sender.send(request('https://hooks.example.com/agent-jobs'));
        expect(result).toMatchObject({ error: `address not allowed: ${address}` });
        expect(result.httpStatus).toBeUndefined();
        expect(lookup.calls).toBe(1);
      },
    );

    it('refuses when any of several resolved addresses is refused', async () => {
      const lookup: LookupFunction = (_hostname, _options, callback) =>
        callback(null, [
          { address: '93.184.215.14', family: 4 },
          { address: '10.0.0.7', family: 4 },
        ]);
      const sender = new WebhookSender({ deployment: 'aws', lookup, timeoutMs: 2000 });
      const result = await sender.send(request('https://hooks.example.com/agent-jobs'));
      expect(result).toMatchObject({ error: 'address not allowed: 10.0.0.7' });
    });

    it('tells the client the same for a refused connection and a timeout (no port-scan oracle); the log gets which', async () => {
      const refusing: LookupFunction = (_hostname, _options, callback) =>
        callback(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), '', 4);
      const hanging: LookupFunction = () => undefined;
      const url = 'https://hooks.example.com:8443/agent-jobs';
      const refused = await new WebhookSender({ deployment: 'aws', lookup: refusing }).send(request(url));
      const timedOut = await new WebhookSender({ deployment: 'aws', lookup: hanging, timeoutMs: 100 }).send(
        request(url),
      );
      expect(refused.error).toBe(NO_ANSWER);
      expect(timedOut.error).toBe(NO_ANSWER);
      expect(refused.detail).toBe('connection refused');
      expect(timedOut.detail).toBe('timeout after 100 ms');
      const locally = await new WebhookSender({ deployment: 'local', lookup: refusing }).send(request(url));
      expect(locally).toMatchObject({ error: 'connection refused' });
      expect(locally.detail).toBeUndefined();
    });

    it('refuses a port other than 443 and 8443 before connecting', async () => {
      const lookup = fakeLookup('93.184.215.14');
      const sender = new WebhookSender({ deployment: 'aws', lookup });
      expect(await sender.send(request('https://hooks.example.com:22/x'))).toMatchObject({
        error: 'url not allowed: must use port 443 or 8443',
      });
      expect(lookup.calls).toBe(0);
    });

    it('refuses a URL the submit check would refuse, before connecting', async () => {
      const sender = new WebhookSender({ deployment: 'aws' });
      expect(await sender.send(request('http://hooks.example.com/x'))).toMatchObject({
        error: 'url not allowed: must use https',
      });
      expect(await sender.send(request('https://[::ffff:169.254.169.254]/'))).toMatchObject({
        error: expect.stringMatching(/^url not allowed: address .* is not publicly routable$/),
      });
    });
  });

  it('checks an IP-literal host itself, since Node does not look it up', async () => {
    const server = await startServer();
    const lookup = fakeLookup('127.0.0.1');
    const sender = new WebhookSender({ deployment: 'local', lookup, allowAddress: () => false });
    const result = await sender.send(request(`http://127.0.0.1:${server.port}/`));
    expect(result).toMatchObject({ error: 'address not allowed: 127.0.0.1' });
    expect(server.received).toHaveLength(0);
    expect(lookup.calls).toBe(0);
  });

  it('connects to exactly the address it checked, so DNS rebinding cannot reach a refused one', async (ctx) => {
    // Two receivers on one port: 127.0.0.2 plays the public address, 127.0.0.1 the private one.
    const publicSide = await startServer(undefined, '127.0.0.2').catch(() => undefined);
    if (!publicSide) return ctx.skip('127.0.0.2 is not available on this machine');
    const privateSide = await startServer(undefined, '127.0.0.1', publicSide.port);
    // The first answer is public; every later one is private, as a rebinding name would answer.
    const lookup = fakeLookup('127.0.0.2', '127.0.0.1');
    const sender = new WebhookSender({
      deployment: 'local',
      lookup,
      allowAddress: (address) => address === '127.0.0.2',
    });
    const url = `http://rebind.example.com:${publicSide.port}/hook`;

    // One lookup per attempt: a check followed by a second resolution would have reached 127.0.0.1.
    expect(await sender.send(request(url))).toMatchObject({ httpStatus: 200 });
    expect(lookup.calls).toBe(1);
    expect(publicSide.received.map((r) => r.localAddress)).toEqual(['127.0.0.2']);
    expect(privateSide.received).toHaveLength(0);

    // Now the name answers the private address: refused at connect, nothing reaches it.
    expect(await sender.send(request(url))).toMatchObject({ error: 'address not allowed: 127.0.0.1' });
    expect(lookup.calls).toBe(2);
    expect(privateSide.received).toHaveLength(0);
    expect(publicSide.received).toHaveLength(1);
  });
});
