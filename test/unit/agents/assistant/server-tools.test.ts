import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runServerTool, serverToolDefinition } from '../../../../lambdas/agents/assistant/server-tools.js';
import {
  FETCH_URL_USER_AGENT,
  MAX_FETCH_TEXT_BYTES,
} from '../../../../lambdas/agents/assistant/tools/fetch-url.js';

const servers: ReturnType<typeof createServer>[] = [];
async function closeAll() {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
afterEach(closeAll);

/** A site on loopback; `pages` maps a path to its answer. */
async function site(pages: Record<string, (req: IncomingMessage, res: ServerResponse) => void>) {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    const page = pages[req.url ?? ''];
    if (page) page(req, res);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const local = { signal: new AbortController().signal, deployment: 'local' as const };

describe('serverToolDefinition', () => {
  it('gives the model fetch_url’s JSON Schema, generated from its input schema', () => {
    expect(serverToolDefinition('fetch_url')).toEqual({
      name: 'fetch_url',
      description: expect.stringContaining('100 KB'),
      parameters: {
        type: 'object',
        properties: {
          url: {
            type: 'string',
            minLength: 1,
            maxLength: 2048,
            description: 'The absolute http(s) URL to fetch.',
          },
        },
        required: ['url'],
        additionalProperties: false,
      },
    });
  });

  it('generates each definition once: every model call and its estimate get the same one', () => {
    expect(serverToolDefinition('fetch_url')).toBe(serverToolDefinition('fetch_url'));
    expect(() => serverToolDefinition('rm_rf')).toThrow('no server tool named rm_rf');
  });
});

describe('runServerTool', () => {
  it('answers an unknown tool and bad arguments with a tool error', async () => {
    expect(await runServerTool('rm_rf', {}, local)).toEqual({
      output: { error: 'unknown tool "rm_rf"' },
      isError: true,
    });
    expect(await runServerTool('fetch_url', { url: 5 }, local)).toEqual({
      output: {
        error: 'invalid arguments for fetch_url: url: Invalid input: expected string, received number',
      },
      isError: true,
    });
  });
});

describe('fetch_url', () => {
  it('fetches a page with GET and returns its status, content type and text', async () => {
    const { base, requests } = await site({
      '/page': (_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<h1>Hello</h1>'),
    });
    expect(await runServerTool('fetch_url', { url: `${base}/page#section` }, local)).toEqual({
      output: { status: 200, contentType: 'text/html; charset=utf-8', text: '<h1>Hello</h1>' },
      isError: false,
    });
    expect(requests.map((r) => [r.method, r.url, r.headers['user-agent']])).toEqual([
      ['GET', '/page', FETCH_URL_USER_AGENT],
    ]);
  });

  it('returns an error status as a result, for the model to read', async () => {
    const { base } = await site({});
    expect(await runServerTool('fetch_url', { url: `${base}/missing` }, local)).toEqual({
      output: { status: 404, contentType: 'text/plain', text: 'not here' },
      isError: false,
    });
  });

  it('cuts the text at 100 KB without splitting a character', async () => {
    const { base } = await site({
      '/big': (_req, res) =>
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('€'.repeat(100_000)),
    });
    const result = await runServerTool('fetch_url', { url: `${base}/big` }, local);
    const text = (result.output as { text: string }).text;
    expect(text).toBe('€'.repeat(Math.floor(MAX_FETCH_TEXT_BYTES / 3)));
  });

  it('follows redirects, checking every hop', async () => {
    const { base, requests } = await site({
      '/old': (_req, res) => res.writeHead(301, { location: '/new' }).end(),
      '/new': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    });
    expect(await runServerTool('fetch_url', { url: `${base}/old` }, local)).toEqual({
      output: { status: 200, contentType: 'application/json', text: '{"ok":true}' },
      isError: false,
    });
    expect(requests.map((r) => r.url)).toEqual(['/old', '/new']);
  });

  it('gives no text for a body that is not text', async () => {
    const { base } = await site({
      '/image': (_req, res) =>
        res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47])),
    });
    expect((await runServerTool('fetch_url', { url: `${base}/image` }, local)).output).toEqual({
      status: 200,
      contentType: 'image/png',
      text: '',
    });
  });

  it('refuses loopback, private and metadata addresses on a deployed stack, as a tool error', async () => {
    const { base, requests } = await site({ '/page': (_req, res) => res.end('secret') });
    const aws = { ...local, deployment: 'aws' as const };
    for (const url of ['https://127.0.0.1/', 'https://169.254.169.254/latest/meta-data/', 'https://[::1]/']) {
      const result = await runServerTool('fetch_url', { url }, aws);
      expect(result.isError).toBe(true);
      expect(result.output).toEqual({
        error: expect.stringMatching(/^url not allowed: address .* is not publicly routable$/),
      });
    }
    expect(await runServerTool('fetch_url', { url: `${base}/page` }, aws)).toEqual({
      output: { error: 'url not allowed: must use https' },
      isError: true,
    });
    expect(requests).toHaveLength(0);
  });

  it('reports a refused connection as a tool error', async () => {
    const { base } = await site({});
    await closeAll();
    expect(await runServerTool('fetch_url', { url: `${base}/` }, local)).toEqual({
      output: { error: 'fetch failed: connection refused' },
      isError: true,
    });
  });
});
