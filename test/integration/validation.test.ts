import { describe, expect, it } from 'vitest';
import { apiFor, expectProblem } from './client.js';

const api = apiFor('valid');

async function jobCount() {
  const res = await api.list('?limit=100');
  return res.body.items.length as number;
}

describe('bad input is a 4xx problem and changes nothing', () => {
  const json = { 'content-type': 'application/json' };
  const cases: Array<
    [string, { raw?: string; body?: unknown; headers?: Record<string, string> }, number, string]
  > = [
    ['malformed JSON', { raw: '{"agent": "echo", ', headers: json }, 400, 'validation_failed'],
    [
      'not JSON at all',
      { raw: 'agent=echo', headers: { 'content-type': 'text/plain' } },
      415,
      'unsupported_media_type',
    ],
    [
      'no content type',
      { raw: '{"agent":"echo","input":{}}', headers: { 'content-type': '' } },
      415,
      'unsupported_media_type',
    ],
    ['empty body', { raw: '', headers: json }, 400, 'validation_failed'],
    ['array body', { body: [1, 2] }, 400, 'validation_failed'],
    ['missing input', { body: { agent: 'echo' } }, 400, 'validation_failed'],
    ['agent of wrong type', { body: { agent: 42, input: {} } }, 400, 'validation_failed'],
    [
      'unknown field',
      { body: { agent: 'echo', input: { message: 'x' }, extra: true } },
      400,
      'validation_failed',
    ],
    [
      'timeout of wrong type',
      { body: { agent: 'echo', input: { message: 'x' }, timeoutSeconds: 'soon' } },
      400,
      'validation_failed',
    ],
    [
      'timeout over the agent maximum',
      { body: { agent: 'echo', input: { message: 'x' }, timeoutSeconds: 999_999 } },
      400,
      'validation_failed',
    ],
    [
      'metadata not an object',
      { body: { agent: 'echo', input: { message: 'x' }, metadata: [1] } },
      400,
      'validation_failed',
    ],
    [
      'webhook url not a URL',
      { body: { agent: 'echo', input: { message: 'x' }, webhook: { url: 'nope' } } },
      400,
      'validation_failed',
    ],
    ['unknown agent', { body: { agent: 'nobody', input: {} } }, 422, 'unknown_agent'],
    [
      'input against the agent schema',
      { body: { agent: 'echo', input: { message: 1, steps: 99 } } },
      400,
      'invalid_input',
    ],
    [
      'oversized body',
      { body: { agent: 'echo', input: { message: 'x'.repeat(300 * 1024) } } },
      413,
      'payload_too_large',
    ],
  ];

  it.each(cases)('rejects %s', async (_name, request, status, code) => {
    const before = await jobCount();
    const res = await api.call('POST', '/v1/jobs', request);
    expectProblem(res, status, code);
    expect(await jobCount()).toBe(before);
  });

  it.each([
    ['6 MB', 6 * 1024 * 1024, 'payload_too_large'],
    ['9.9 MB', 9.9 * 1024 * 1024, 'payload_too_large'],
  ])('answers a body of %s with 413, changing nothing', async (_name, bytes, code) => {
    const before = await jobCount();
    const raw = JSON.stringify({ agent: 'echo', input: { message: 'x'.repeat(Math.floor(bytes)) } });
    expectProblem(await api.call('POST', '/v1/jobs', { raw, headers: json }), 413, code);
    expect(await jobCount()).toBe(before);
  });

  it('answers a key of 64 KB or more (which DynamoDB cannot store) with 400, in a job and in an answer', async () => {
    const key = 'k'.repeat(65_536);
    expectProblem(
      await api.create({ agent: 'echo', input: { message: 'x', [key]: 1 } }),
      400,
      'validation_failed',
    );
    const asking = await api.create({
      agent: 'echo',
      input: { message: 'x', steps: 2, stepMs: 0, askInput: 'ok?' },
    });
    await api.waitForStatus(asking.body.id, 'input_required');
    const answer = await api.call('POST', `/v1/jobs/${asking.body.id}/input`, {
      body: { input: { [key]: 1 } },
    });
    expectProblem(answer, 400, 'validation_failed');
    expect((await api.get(asking.body.id)).body.status).toBe('input_required');
  });

  it('lists the failing fields of a schema error', async () => {
    const res = await api.create({ agent: 'echo', input: { message: 1, steps: 99 } });
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'input.message' }),
        expect.objectContaining({ path: 'input.steps' }),
      ]),
    );
  });

  it.each([
    ['limit=0', 'validation_failed'],
    ['limit=101', 'validation_failed'],
    ['limit=abc', 'validation_failed'],
    ['status=done', 'validation_failed'],
    ['cursor=forged', 'invalid_cursor'],
    [
      `cursor=${Buffer.from('["2026-01-01T00:00:00.000Z","job_00000000000000000000000000"]').toString('base64url')}.AAAA`,
      'invalid_cursor',
    ],
  ])('rejects the list query %s', async (query, code) => {
    expectProblem(await api.list(`?${query}`), 400, code);
  });

  it('rejects malformed job ids in the path', async () => {
    expectProblem(await api.get('not-a-job'), 400, 'validation_failed');
    expectProblem(await api.cancel('job_%27%20OR%201%3D1'), 400, 'validation_failed');
  });
});
