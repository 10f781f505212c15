import { beforeAll, describe, expect, inject, it } from 'vitest';
import { API_ROUTES } from '../../lambdas/config/routes.js';
import { JOB_STATUSES } from '../../lambdas/domain/job.js';
import { apiFor, expectProblem } from '../integration/client.js';

const owner = apiFor('iso-owner');
const other = apiFor('iso-other');
const NEVER = 'job_0000000000000000000000000z';

/** Every authenticated route that addresses one job, with its path parameters filled in. */
const jobRoutes = API_ROUTES.filter((r) => r.auth && r.path.includes('{id}'));
const fill = (path: string, id: string) => path.replace('{id}', id).replace(/\{\w+\}/g, 'x');

/** A plain request with a deadline, so a route that wrongly starts streaming fails instead of hanging. */
async function request(key: string, method: string, path: string) {
  const res = await fetch(`${inject('apiUrl')}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    // A valid body for every POST (cancel ignores it; input needs it), so only ownership decides.
    body: method === 'POST' ? '{"input":"an answer"}' : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Every page of a listing. */
async function listAll(api: ReturnType<typeof apiFor>, query = '') {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.list(`?limit=100${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(page.status).toBe(200);
    ids.push(...page.body.items.map((j: { id: string }) => j.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  return ids;
}

describe('tenant isolation on every route', () => {
  let running: string;
  let finished: string;

  beforeAll(async () => {
    running = (await owner.create({ agent: 'echo', input: { message: 'private', steps: 50, stepMs: 1000 } }))
      .body.id;
    finished = (await owner.create({ agent: 'echo', input: { message: 'done', steps: 1, stepMs: 0 } })).body
      .id;
    // The suites share one stack: a suite run before this one may leave the stream consumers minutes
    // of records to work through (admitting and releasing thousands of jobs), and this job starts after them.
    await owner.waitForTerminal(finished, 170_000);
  });

  it.each(jobRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))(
    "%s answers another tenant's job exactly like a job that never existed",
    async (_, route) => {
      for (const id of [running, finished]) {
        const foreign = await request(other.key, route.method, fill(route.path, id));
        const missing = await request(other.key, route.method, fill(route.path, NEVER));
        expectProblem(foreign, 404, 'not_found');
        expect(foreign.body).toEqual(missing.body);
      }
    },
  );

  it("never lists another tenant's jobs, under any status filter", async () => {
    for (const query of ['', ...JOB_STATUSES.map((s) => `&status=${s}`)]) {
      const listed = await listAll(other, query);
      expect(listed).not.toContain(running);
      expect(listed).not.toContain(finished);
    }
    expect(await listAll(owner)).toEqual(expect.arrayContaining([running, finished]));
  });

  it("leaves the owner's jobs untouched by the other tenant's calls", async () => {
    expect(['pending', 'running']).toContain((await owner.get(running)).body.status);
    expect((await owner.get(finished)).body.status).toBe('succeeded');
    await owner.cancel(running);
  });
});
