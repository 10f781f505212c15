import { describe, expect, inject, it } from 'vitest';
import { apiFor, expectProblem } from './client.js';

const api = apiFor('contract');

describe('job lifecycle over HTTP', () => {
  it('accepts a job at once and runs it to a result', async () => {
    const created = await api.create({
      agent: 'echo',
      input: { message: 'hi', steps: 3, stepMs: 20 },
      metadata: { run: 7 },
    });
    expect(created.status).toBe(202);
    const id = created.body.id;
    expect(id).toMatch(/^job_[0-9a-z]{26}$/);
    expect(created.headers.get('location')).toBe(`/v1/jobs/${id}`);
    expect(Number(created.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(created.body).toMatchObject({
      agent: 'echo',
      status: 'pending',
      attempt: 1,
      input: { message: 'hi', steps: 3, stepMs: 20 },
      metadata: { run: 7 },
      progress: { fraction: 0, step: 0, message: null },
      result: null,
      error: null,
      inputRequest: null,
      startedAt: null,
      completedAt: null,
      links: {
        self: `/v1/jobs/${id}`,
        cancel: `/v1/jobs/${id}/cancel`,
        events: `/v1/jobs/${id}/events`,
        stream: `/v1/jobs/${id}/stream`,
      },
    });

    const done = await api.waitForTerminal(id);
    expect(done.status).toBe(200);
    expect(done.headers.get('retry-after')).toBeNull();
    expect(done.body).toMatchObject({
      status: 'succeeded',
      result: { message: 'hi', steps: 3, input: null },
      progress: { fraction: 1, step: 3 },
      error: null,
    });
    expect(Date.parse(done.body.startedAt)).toBeGreaterThanOrEqual(Date.parse(done.body.createdAt));
    expect(Date.parse(done.body.completedAt)).toBeGreaterThanOrEqual(Date.parse(done.body.startedAt));
    const sevenDays = 7 * 86_400_000;
    expect(Date.parse(done.body.expiresAt) - Date.parse(done.body.completedAt)).toBe(sevenDays);
  });

  it('shows a running job with startedAt and a Retry-After', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'slow', steps: 2, stepMs: 1500 } });
    const running = await api.waitForStatus(body.id, 'running');
    expect(running.body.startedAt).not.toBeNull();
    const retryAfter = Number(running.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    await api.cancel(body.id);
  });

  it('fails at failAtStep with agent_error, keeping the steps completed before it', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 5, stepMs: 0, failAtStep: 3 },
    });
    const done = await api.waitForTerminal(body.id);
    expect(done.body).toMatchObject({ status: 'failed', result: null, progress: { step: 2 } });
    expect(done.body.error).toMatchObject({ code: 'agent_error', retryable: false });
    expect(Date.parse(done.body.expiresAt) - Date.parse(done.body.completedAt)).toBe(30 * 86_400_000);
  });

  it('bounds the whole run by timeoutSeconds (job_timeout)', async () => {
    const { body } = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 10, stepMs: 400 },
      timeoutSeconds: 1,
    });
    const done = await api.waitForTerminal(body.id);
    expect(done.body.status).toBe('failed');
    expect(done.body.error.code).toBe('job_timeout');
  });

  it('fails a step that overruns the agent step timeout with step_timeout', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'x', steps: 1, stepMs: 11_000 } });
    const done = await api.waitForTerminal(body.id, 40_000);
    expect(done.body).toMatchObject({ status: 'failed', progress: { step: 0 } });
    expect(done.body.error.code).toBe('step_timeout');
  }, 60_000);

  it('cancels a running job, idempotently, and never overwrites a finished one', async () => {
    const { body } = await api.create({ agent: 'echo', input: { message: 'long', steps: 20, stepMs: 500 } });
    await api.waitForStatus(body.id, 'running');
    const cancelled = await api.cancel(body.id);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: body.id, status: 'cancelled' });
    expect(cancelled.headers.get('retry-after')).toBeNull();
    const again = await api.call('DELETE', `/v1/jobs/${body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('cancelled');
    // The step in flight must not write progress after the cancel: the job stays as cancelled.
    await new Promise((r) => setTimeout(r, 1200));
    const later = await api.get(body.id);
    expect(later.body.status).toBe('cancelled');
    expect(later.body.progress).toEqual(cancelled.body.progress);

    const quick = await api.create({ agent: 'echo', input: { message: 'q', steps: 1, stepMs: 0 } });
    await api.waitForTerminal(quick.body.id);
    expectProblem(await api.cancel(quick.body.id), 409, 'job_terminal');
    expectProblem(await api.call('DELETE', `/v1/jobs/${quick.body.id}`), 409, 'job_terminal');
  });

  it('lists the tenant jobs newest first, pages with a cursor and filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api.create({ agent: 'echo', input: { message: `list-${i}`, steps: 1, stepMs: 0 } });
      ids.push(res.body.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const first = await api.list('?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await api.list(`?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body.items[0].id).toBe(ids[0]);

    for (const id of ids) await api.waitForTerminal(id);
    const succeeded = await api.list('?status=succeeded&limit=100');
    expect(succeeded.body.items.every((j: { status: string }) => j.status === 'succeeded')).toBe(true);
    const cancelledOnly = await api.list('?status=cancelled&limit=100');
    expect(cancelledOnly.body.items.map((j: { id: string }) => j.id)).not.toContain(ids[0]);
  });
});

describe('authentication', () => {
  const url = () => inject('apiUrl');

  it('answers 401 problem+json with WWW-Authenticate for a missing or unknown key', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'nope' }] as Record<
      string,
      string
    >[]) {
      const res = await fetch(`${url()}/v1/jobs`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ status: 401, code: 'unauthorized' });
    }
  });

  it('accepts the key in x-api-key as well as Authorization', async () => {
    const res = await fetch(`${url()}/v1/jobs?limit=1`, { headers: { 'x-api-key': api.key } });
    expect(res.status).toBe(200);
  });
});

describe('service endpoints', () => {
  it('reports liveness and readiness without a key', async () => {
    const live = await fetch(`${inject('apiUrl')}/v1/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${inject('apiUrl')}/v1/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: { name: string }[] };
    expect(body.checks.map((c: { name: string }) => c.name).sort()).toEqual([
      'modelProvider',
      'stateMachine',
      'table',
    ]);
  });

  it('publishes an OpenAPI 3.1 document generated from the request schemas', async () => {
    const res = await fetch(`${inject('apiUrl')}/v1/openapi.json`);
    expect(res.status).toBe(200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is walked field by field
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/health/ready']),
    );
    expect(doc.components.schemas.CreateJobRequest.required).toEqual(
      expect.arrayContaining(['agent', 'input']),
    );
  });

  it('answers unknown routes with a 404 problem', async () => {
    const res = await api.call('GET', '/v1/nothing-here');
    expectProblem(res, 404, 'not_found');
  });
});
