import { TERMINAL_STATUSES } from '../lambdas/domain/job.js';

export interface JobView {
  id: string;
  status: string;
  error: { code: string } | null;
}

/** The API as an outside client calls it: plain HTTP, one tenant's key. */
export function benchApi(url: string, apiKey: string) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

  async function submit(body: unknown, idempotencyKey?: string): Promise<JobView> {
    const res = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: idempotencyKey ? { ...headers, 'idempotency-key': idempotencyKey } : headers,
      body: JSON.stringify(body),
    });
    const job = (await res.json()) as JobView;
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(job)}`);
    return job;
  }

  async function get(id: string): Promise<JobView> {
    const res = await fetch(`${url}/v1/jobs/${id}`, { headers });
    const job = (await res.json()) as JobView;
    if (res.status !== 200) throw new Error(`get answered ${res.status}: ${JSON.stringify(job)}`);
    return job;
  }

  /** Polls until the job is terminal; `intervalMs` 0 polls back to back (for latency, not for load). */
  async function waitForTerminal(id: string, intervalMs: number, timeoutMs = 60_000): Promise<JobView> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const job = await get(id);
      if ((TERMINAL_STATUSES as readonly string[]).includes(job.status)) return job;
      if (Date.now() > until) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  return { submit, get, waitForTerminal };
}

export type BenchApi = ReturnType<typeof benchApi>;

/** The job every throughput and overhead figure is about: three echo steps that take no time themselves. */
export const echoJob = (message: string, steps = 3) => ({
  agent: 'echo',
  input: { message, steps, stepMs: 0 },
});
