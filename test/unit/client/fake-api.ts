import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** When the server received it (ms since the epoch). */
  at: number;
}

export type Route = (req: SeenRequest, res: ServerResponse, index: number) => void | Promise<void>;

/**
 * A local HTTP server answering as each test scripts it, recording every request it receives, how
 * many were in flight at once, and closing itself after the test.
 */
export async function fakeApi(route: Route) {
  const seen: SeenRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method!,
      path: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      at: Date.now(),
    };
    seen.push(request);
    await route(request, res, seen.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterEach(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, maxInFlight: () => maxInFlight };
}

export function reply(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const json = status >= 400 ? 'application/problem+json' : 'application/json';
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': json }), ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

export const problem = (status: number, code: string, extra: Record<string, unknown> = {}) => ({
  type: `urn:agent-jobs:problem:${code}`,
  title: 'x',
  status,
  detail: `${code} happened`,
  code,
  ...extra,
});

let counter = 0;
/** A job as the API shows it. */
export function job(overrides: Record<string, unknown> = {}) {
  const id = (overrides.id as string) ?? `job_${String(++counter).padStart(26, '0')}`;
  return {
    id,
    agent: 'echo',
    status: 'running',
    attempt: 1,
    input: { message: 'hi' },
    metadata: {},
    progress: { fraction: 0, step: 0, message: null },
    result: null,
    error: null,
    inputRequest: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    completedAt: null,
    expiresAt: '2026-02-01T00:00:00.000Z',
    links: {
      self: `/v1/jobs/${id}`,
      cancel: `/v1/jobs/${id}/cancel`,
      events: `/v1/jobs/${id}/events`,
      stream: `/v1/jobs/${id}/stream`,
    },
    ...overrides,
  };
}
