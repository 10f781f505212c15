import { beforeAll, describe, expect, it } from 'vitest';
import { apiFor, expectProblem } from './client.js';

const owner = apiFor('iso-a');
const other = apiFor('iso-b');

describe('tenant isolation', () => {
  let jobId: string;
  let ownerCursor: string;

  beforeAll(async () => {
    const created = await owner.create({
      agent: 'echo',
      input: { message: 'private', steps: 30, stepMs: 500 },
    });
    jobId = created.body.id;
    await owner.create({ agent: 'echo', input: { message: 'second', steps: 1, stepMs: 0 } });
    ownerCursor = (await owner.list('?limit=1')).body.nextCursor;
  });

  it('hides a job from another tenant exactly as if it never existed', async () => {
    const never = 'job_0000000000000000000000000z';
    for (const [method, path] of [
      ['GET', `/v1/jobs/${jobId}`],
      ['POST', `/v1/jobs/${jobId}/cancel`],
      ['DELETE', `/v1/jobs/${jobId}`],
    ] as const) {
      const foreign = await other.call(method, path);
      const missing = await other.call(method, path.replace(jobId, never));
      expectProblem(foreign, 404, 'not_found');
      expect(foreign.body).toEqual(missing.body);
    }
    const still = await owner.get(jobId);
    expect(still.body.status).not.toBe('cancelled');
    await owner.cancel(jobId);
  });

  it("never lists another tenant's jobs, and refuses another tenant's cursor", async () => {
    const listed = await other.list('?limit=100');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((j: { id: string }) => j.id)).not.toContain(jobId);
    expectProblem(await other.list(`?cursor=${encodeURIComponent(ownerCursor)}`), 400, 'invalid_cursor');
  });

  it('derives different job ids for the same Idempotency-Key in different tenants', async () => {
    const key = `shared-${Date.now()}`;
    const body = { agent: 'echo', input: { message: 'k', steps: 1, stepMs: 0 } };
    const a = await owner.create(body, { 'idempotency-key': key });
    const b = await other.create(body, { 'idempotency-key': key });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect(a.body.id).not.toBe(b.body.id);
  });
});
