import { describe, expect, it } from 'vitest';
import { apiFor, executionsNamed, expectProblem } from './client.js';

const api = apiFor('idem');
const unique = () => `key-${Date.now()}-${Math.random().toString(36).slice(2)}`;

describe('Idempotency-Key', () => {
  it('replays the same job for the same key and body', async () => {
    const key = unique();
    const body = { agent: 'echo', input: { message: 'once', stepMs: 0 } };
    const first = await api.create(body, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // Same body with other formatting and key order: still the same request.
    const again = await api.call('POST', '/v1/jobs', {
      raw: `{ "input": {"stepMs":0, "message":"once"},\n "agent":"echo" }`,
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
    });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(Object.keys(again.body).sort()).toEqual(Object.keys(first.body).sort());
    await api.waitForTerminal(first.body.id);
    const afterDone = await api.create(body, { 'idempotency-key': key });
    expect(afterDone.body).toMatchObject({ id: first.body.id, status: 'succeeded' });
    expect(await executionsNamed(first.body.id)).toHaveLength(1);
  });

  it('rejects the same key with a different body', async () => {
    const key = unique();
    await api.create({ agent: 'echo', input: { message: 'a' } }, { 'idempotency-key': key });
    const res = await api.create({ agent: 'echo', input: { message: 'b' } }, { 'idempotency-key': key });
    expectProblem(res, 422, 'idempotency_key_mismatch');
  });

  it('rejects a key over 255 characters', async () => {
    const res = await api.create(
      { agent: 'echo', input: { message: 'a' } },
      { 'idempotency-key': 'k'.repeat(256) },
    );
    expectProblem(res, 400, 'validation_failed');
  });

  it('gives 50 concurrent duplicates exactly one job and one execution', async () => {
    const key = unique();
    const body = { agent: 'echo', input: { message: 'burst', steps: 1, stepMs: 0 } };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => api.create(body, { 'idempotency-key': key })),
    );
    for (const r of results) expect([202, 409]).toContain(r.status);
    const ids = new Set(results.filter((r) => r.status === 202).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(
      results.filter((r) => r.headers.get('idempotent-replayed') === null && r.status === 202),
    ).toHaveLength(1);
    const [id] = [...ids] as [string];
    await api.waitForTerminal(id);
    expect(await executionsNamed(id)).toHaveLength(1);
    const listed = await api.list('?limit=100');
    expect(listed.body.items.filter((j: { id: string }) => j.id === id)).toHaveLength(1);
  });
});
