import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooLargeError, readBody } from '../../../lambdas/local/http-util.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** Starts a server that hands each request to `read` and answers 200 or 413 from its outcome. */
async function serve(read: (req: IncomingMessage) => Promise<Buffer>) {
  const outcomes: Array<Buffer | Error> = [];
  server = createServer((req, res) => {
    read(req).then(
      (body) => {
        outcomes.push(body);
        res.end('ok');
      },
      (e: Error) => {
        outcomes.push(e);
        res.writeHead(413, { Connection: 'close' }).end();
      },
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, outcomes };
}

function send(port: number, chunks: string[], headers: Record<string, string> = {}) {
  return new Promise<number>((resolve, reject) => {
    const req = request({ port, method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('readBody', () => {
  it('reads a body sent in several chunks', async () => {
    const { port, outcomes } = await serve((req) => readBody(req, 1024));
    expect(await send(port, ['{"a":', '1}'])).toBe(200);
    expect((outcomes[0] as Buffer).toString()).toBe('{"a":1}');
  });

  it('reads an empty body', async () => {
    const { port, outcomes } = await serve((req) => readBody(req));
    expect(await send(port, [])).toBe(200);
    expect(outcomes[0]).toEqual(Buffer.alloc(0));
  });

  it('reads nothing from a request without a body, and its connection serves the next request', async () => {
    const { port, outcomes } = await serve((req) => readBody(req));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<void>((resolve, reject) => {
        request({ port, agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
          .on('error', reject)
          .end();
      });
    await get();
    await get();
    agent.destroy();
    expect(outcomes).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
  });

  it('gives up once a body without a declared length passes the limit', async () => {
    const { port, outcomes } = await serve((req) => readBody(req, 8));
    expect(await send(port, ['12345', '67890'], { 'Transfer-Encoding': 'chunked' })).toBe(413);
    expect(outcomes[0]).toBeInstanceOf(BodyTooLargeError);
  });

  it('refuses a declared length over the limit before reading anything', async () => {
    const { port, outcomes } = await serve((req) => readBody(req, 8));
    expect(await send(port, ['0123456789'], { 'Content-Length': '10' })).toBe(413);
    expect((outcomes[0] as Error).message).toContain('body of 10 bytes');
  });

  it('fails when the client hangs up before the body ends', async () => {
    let failed!: (e: Error) => void;
    const failure = new Promise<Error>((resolve) => (failed = resolve));
    await serve((req) => {
      const body = readBody(req);
      body.catch(failed);
      return body;
    });
    const port = (server!.address() as AddressInfo).port;
    const req = request({ port, method: 'POST', headers: { 'Content-Length': '100' } });
    req.on('error', () => {});
    req.write('partial');
    setTimeout(() => req.destroy(), 50);
    expect(await failure).toBeInstanceOf(Error);
  });
});
