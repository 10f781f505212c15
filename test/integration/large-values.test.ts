import { describe, expect, it } from 'vitest';
import { INLINE_MAX_BYTES, MAX_LARGE_VALUE_BYTES } from '../../lambdas/domain/large-values.js';
import { apiFor } from './client.js';

const api = apiFor('large');

/** The job's event log once its terminal event is in. */
async function terminalEvent(id: string): Promise<{ type: string; data: Record<string, unknown> }> {
  for (const until = Date.now() + 20_000; Date.now() < until;) {
    const { body } = await api.call('GET', `/v1/jobs/${id}/events?limit=1000`);
    const last = body.items.at(-1);
    if (['job.succeeded', 'job.failed'].includes(last?.type)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} has no terminal event`);
}

describe('values too large for the job item', () => {
  it('runs a job with a 100 KB input through several steps and returns its input whole', async () => {
    const payload = { text: 'p'.repeat(100_000), nested: { list: [1, 2, 3] } };
    const created = await api.create({ agent: 'sized', input: { payload, steps: 3 } });
    expect(created.status).toBe(202);
    expect(created.body.input).toEqual({ payload, steps: 3 });

    const done = await api.waitForTerminal(created.body.id);
    expect(done.body.status).toBe('succeeded');
    expect(done.body.input).toEqual({ payload, steps: 3 });
    expect(done.body.result).toEqual({ payload, filler: '' });
    expect(done.body).not.toHaveProperty('omitted');
  });

  it('stores a 1 MiB result and returns it whole over HTTP, while events carry the job without it', async () => {
    const resultBytes = 1024 * 1024;
    const created = await api.create({ agent: 'sized', input: { resultBytes } });
    const done = await api.waitForTerminal(created.body.id);
    expect(done.body.status).toBe('succeeded');
    expect(done.body.result.filler).toHaveLength(resultBytes);

    const event = await terminalEvent(created.body.id);
    expect(event.data).toMatchObject({ status: 'succeeded', result: null, omitted: ['result'] });
  });

  it('fails a job whose result is over 5 MiB with agent_error saying so', async () => {
    const created = await api.create({ agent: 'sized', input: { resultBytes: MAX_LARGE_VALUE_BYTES + 1 } });
    const done = await api.waitForTerminal(created.body.id);
    expect(done.body.status).toBe('failed');
    expect(done.body.error).toMatchObject({ code: 'agent_error', retryable: false });
    expect(done.body.error.message).toMatch(
      /result is too large to store: \d+ bytes, over the 5242880-byte limit/,
    );
  });

  it('lists a job with large metadata with that metadata, and never its input', async () => {
    const metadata = { note: 'm'.repeat(INLINE_MAX_BYTES * 2) };
    const created = await api.create({ agent: 'sized', input: { payload: 'q'.repeat(50_000) }, metadata });
    const { body } = await api.list();
    const listed = body.items.find((j: { id: string }) => j.id === created.body.id);
    expect(listed.metadata).toEqual(metadata);
    expect(listed).not.toHaveProperty('input');
    expect(listed).not.toHaveProperty('omitted');
  });
});
