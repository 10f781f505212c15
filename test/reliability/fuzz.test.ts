import fc from 'fast-check';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { API_ROUTES } from '../../lambdas/config/routes.js';
import { apiFor } from '../integration/client.js';

const api = apiFor('fuzz');
const created = new Set<string>();

/** Header values undici will send: printable ASCII (it refuses control characters itself). */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const unicode = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength });

/** Path segments: unicode (encoded), malformed escapes and traversal (raw), long ids and near-valid ids. */
const pathId = fc.oneof(
  unicode(40).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '..', '%2F', 'job_', 'job_0000000000000000000000000z'),
  fc.stringMatching(/^job_[0-9a-z]{26}$/),
  fc.integer({ min: 256, max: 4096 }).map((n) => 'x'.repeat(n)),
);

const queryValue = fc.oneof(
  unicode(30),
  fc.constantFrom('-1', '0', '1', '100', '101', '1e3', 'NaN', '', 'succeeded', 'RUNNING'),
  headerText(600),
);
const query = fc
  .dictionary(fc.constantFrom('status', 'limit', 'cursor', 'after', 'wait', 'x'), queryValue, { maxKeys: 4 })
  .map((q) =>
    Object.entries(q)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('&'),
  );

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
/** Often the usual value, sometimes anything: requests get past parsing into the schemas and the store. */
const often = <T>(usual: T, other: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: other });
const validJob = fc.record(
  {
    agent: fc.constant('echo'),
    input: fc.record({ message: unicode(50), steps: fc.constant(1), stepMs: fc.constant(0) }),
    metadata: fc.dictionary(unicode(10), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
  },
  { requiredKeys: ['agent', 'input'] },
);
const anyJob = fc.record(
  {
    agent: often('echo', fc.oneof(unicode(20), fc.jsonValue())),
    input: fc.oneof(
      fc.record(
        {
          message: fc.oneof(unicode(50), fc.jsonValue()),
          steps: often(1, fc.oneof(fc.integer({ min: -5, max: 60 }), fc.double())),
          stepMs: often(0, fc.constantFrom(1, -1, 60_001, 1.5, '0')),
          failAtStep: fc.integer(),
          askInput: unicode(10),
        },
        { requiredKeys: ['message', 'steps', 'stepMs'] },
      ),
      fc.jsonValue(),
    ),
    metadata: fc.jsonValue(),
    webhook: fc.oneof(fc.record({ url: fc.oneof(fc.webUrl(), unicode(20)) }), fc.jsonValue()),
    timeoutSeconds: fc.oneof(fc.integer(), fc.double()),
    extra: fc.jsonValue(),
  },
  { requiredKeys: ['agent', 'input'] },
);
const jobLike = fc.oneof(validJob, anyJob);
const body = fc.oneof(
  { weight: 4, arbitrary: jobLike.map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: unicode(200) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 50_000 }).map(nested) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 5_000 })
      .map((depth) => `{"agent":"echo","input":{"message":"deep","x":${nested(depth)}}}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 200 * 1024, max: 400 * 1024 })
      .map((n) => JSON.stringify({ agent: 'echo', input: { message: 'x'.repeat(n) } })),
  },
);

const headers = fc.record(
  {
    authorization: fc.oneof(
      { weight: 6, arbitrary: fc.constant(`Bearer ${api.key}`) },
      { weight: 1, arbitrary: headerText(80) },
    ),
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'multipart/form-data',
      ),
      headerText(40),
    ),
    'idempotency-key': fc.oneof(headerText(20), headerText(300)),
    prefer: fc.oneof(fc.constantFrom('wait=0', 'wait=1', 'wait=-1', 'wait=99999'), headerText(30)),
    'last-event-id': headerText(30),
    accept: fc.constantFrom('application/json', 'text/event-stream', '*/*'),
  },
  { requiredKeys: ['authorization'] },
);

const submitRoute = API_ROUTES.find((r) => r.method === 'POST' && r.path === '/v1/jobs')!;
const request = fc.record({
  // Submits weigh more: the one route that writes has the most input to get wrong.
  route: fc.oneof(
    { weight: 1, arbitrary: fc.constant(submitRoute) },
    { weight: 3, arbitrary: fc.constantFrom(...API_ROUTES) },
  ),
  method: fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH') },
  ),
  id: pathId,
  query,
  headers,
  body,
});

/** Every page of the fuzz tenant's jobs. */
async function listedIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.list(`?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    ids.push(...page.body.items.map((j: { id: string }) => j.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  return ids;
}

afterAll(async () => {
  await Promise.all([...created].map((id) => api.cancel(id)));
});

describe('fuzzing every route', () => {
  it('never answers 5xx, answers every 4xx as problem+json, and changes nothing when it rejects', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const method = r.method ?? r.route.method;
        const path = r.route.path.replace(/\{\w+\}/g, r.id);
        const res = await fetch(`${inject('apiUrl')}${path}${r.query ? `?${r.query}` : ''}`, {
          method,
          headers: r.headers,
          body: method === 'GET' ? undefined : r.body,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          const problem = JSON.parse(text);
          expect(problem).toMatchObject({
            type: expect.any(String),
            title: expect.any(String),
            status: res.status,
            detail: expect.any(String),
            code: expect.stringMatching(/^[a-z_]+$/),
          });
        } else if (method === 'POST' && r.route.path === '/v1/jobs') {
          created.add(JSON.parse(text).id);
        }
      }),
      {
        numRuns: 1000,
        // One plain valid submit among the generated ones, so the accepting path is always exercised.
        examples: [
          [
            {
              route: submitRoute,
              method: undefined,
              id: 'x',
              query: '',
              headers: { authorization: `Bearer ${api.key}`, 'content-type': 'application/json' },
              body: JSON.stringify({ agent: 'echo', input: { message: 'example', steps: 1, stepMs: 0 } }),
            },
          ],
        ],
      },
    );
    // Jobs exist exactly for the submits that were accepted: no rejected request wrote one.
    expect((await listedIds()).sort()).toEqual([...created].sort());
  });
});
