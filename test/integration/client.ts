import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { expect, inject } from 'vitest';

export interface ApiResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
  body: any;
}

/** A client for one tenant of the local stack, speaking plain HTTP like any outside caller. */
export function apiFor(tenant: string) {
  const base = inject('apiUrl');
  const key = inject('apiKeys')[tenant];
  if (!key) throw new Error(`no key for tenant ${tenant}`);
  async function call(
    method: string,
    path: string,
    init: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...init.headers };
    let body: string | undefined = init.raw;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${base}${path}`, { method, headers, body });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text ? JSON.parse(text) : undefined,
    } as ApiResponse;
  }
  return {
    key,
    call,
    create: (body: unknown, headers?: Record<string, string>) => call('POST', '/v1/jobs', { body, headers }),
    get: (id: string) => call('GET', `/v1/jobs/${id}`),
    cancel: (id: string) => call('POST', `/v1/jobs/${id}/cancel`),
    list: (query = '') => call('GET', `/v1/jobs${query}`),
    /** Polls until the job is terminal, honouring Retry-After but capped so tests stay quick. */
    async waitForTerminal(id: string, timeoutMs = 45_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/v1/jobs/${id}`);
        if (['succeeded', 'failed', 'cancelled'].includes(res.body?.status)) return res;
        if (Date.now() > until) throw new Error(`job ${id} still ${res.body?.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** Polls until the job reaches `status` (e.g. running) to act on it mid-flight. */
    async waitForStatus(id: string, status: string, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/v1/jobs/${id}`);
        if (res.body?.status === status) return res;
        if (Date.now() > until) throw new Error(`job ${id} is ${res.body?.status}, never ${status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

export function expectProblem(res: ApiResponse, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status,
    code,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
}

export async function executionsNamed(name: string) {
  const sfn = new SFNClient({
    endpoint: inject('sfnEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const out = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: inject('stateMachineArn'), maxResults: 1000 }),
  );
  return (out.executions ?? []).filter((e) => e.name === name);
}
