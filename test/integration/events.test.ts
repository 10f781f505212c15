import { EventSource, type FetchLike } from 'eventsource';
import { describe, expect, inject, it } from 'vitest';
import { apiFor } from './client.js';

const api = apiFor('events');
const other = apiFor('events-other');
const base = inject('apiUrl');

const TERMINAL = ['job.succeeded', 'job.failed', 'job.cancelled'];
const TYPES = ['job.created', 'job.running', 'job.progress', 'job.input_required', ...TERMINAL];

interface Received {
  id: number;
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- event data is asserted field by field
  data: any;
}

/**
 * Follows a job's stream with a real EventSource (which reconnects by itself with Last-Event-ID
 * whenever the server ends the stream). `lastEventId` starts it as a client resuming would.
 */
function follow(id: string, opts: { lastEventId?: number; query?: string } = {}) {
  const authorized: FetchLike = (url, init) =>
    fetch(url, {
      ...init,
      headers: {
        ...(opts.lastEventId === undefined ? {} : { 'Last-Event-ID': String(opts.lastEventId) }),
        ...init.headers,
        authorization: `Bearer ${api.key}`,
      },
    });
  const source = new EventSource(`${base}/v1/jobs/${id}/stream${opts.query ?? ''}`, { fetch: authorized });
  const received: Received[] = [];
  let opens = 0;
  source.addEventListener('open', () => opens++);
  const listeners = new Set<(r: Received) => void>();
  for (const type of TYPES) {
    source.addEventListener(type, (e) => {
      const r = { id: Number(e.lastEventId), type: e.type, data: JSON.parse(e.data) };
      received.push(r);
      for (const l of listeners) l(r);
    });
  }
  /** Resolves once an event matches (e.g. the terminal one); the stream stays open unless closed. */
  const until = (match: (r: Received) => boolean) =>
    new Promise<Received[]>((resolve) => {
      if (received.some(match)) return resolve(received);
      listeners.add((r) => {
        if (match(r)) resolve(received);
      });
    });
  return { source, received, until, opens: () => opens };
}

const isTerminal = (r: Received) => TERMINAL.includes(r.type);

async function echo(input: Record<string, unknown>) {
  const res = await api.create({ agent: 'echo', input: { message: 'events', ...input } });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

describe('job events', () => {
  it('streams the whole ordered log of an echo job: created, running, a progress per step, succeeded', async () => {
    const id = await echo({ steps: 3, stepMs: 200 });
    const stream = follow(id);
    const received = await stream.until(isTerminal);
    stream.source.close();
    expect(received.map((r) => r.type)).toEqual([
      'job.created',
      'job.running',
      'job.progress',
      'job.progress',
      'job.progress',
      'job.succeeded',
    ]);
    expect(received.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(received[0]!.data).toMatchObject({ seq: 1, type: 'job.created', data: { id, status: 'pending' } });
    expect(received.slice(2, 5).map((r) => r.data.data)).toEqual([
      { fraction: 1 / 3, step: 1, message: 'step 1 of 3', data: null },
      { fraction: 2 / 3, step: 2, message: 'step 2 of 3', data: null },
      { fraction: 1, step: 3, message: 'step 3 of 3', data: null },
    ]);
    const job = (await api.get(id)).body;
    expect(received[5]!.data.data).toEqual(job);

    const log = await api.call('GET', `/v1/jobs/${id}/events`);
    expect(log.status).toBe(200);
    expect(log.body).toEqual({ items: received.map((r) => r.data), nextCursor: null });
    for (const item of log.body.items) expect(Object.keys(item)).toEqual(['seq', 'type', 'at', 'data']);
  });

  it('pages through the log with limit and nextCursor', async () => {
    const id = await echo({ steps: 4, stepMs: 0 });
    // The log is complete once the stream has delivered the terminal event.
    const stream = follow(id);
    await stream.until(isTerminal);
    stream.source.close();
    const seqs: number[] = [];
    let cursor: string | null = '0';
    while (cursor !== null) {
      const page = await api.call('GET', `/v1/jobs/${id}/events?limit=3&after=${cursor}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seqs.push(...page.body.items.map((e: { seq: number }) => e.seq));
      cursor = page.body.nextCursor;
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('loses and repeats nothing across a dropped connection resumed with Last-Event-ID and stream ends', async () => {
    // Longer than the stream's maximum duration here (3 s): the EventSource also resumes on its own.
    const id = await echo({ steps: 12, stepMs: 400 });
    const first = follow(id);
    await first.until((r) => r.type === 'job.progress' && r.data.data.step >= 2);
    first.source.close();
    const seen = first.received.map((r) => r.id);
    const resumed = follow(id, { lastEventId: seen.at(-1)! });
    await resumed.until(isTerminal);
    resumed.source.close();
    const union = [...seen, ...resumed.received.map((r) => r.id)];
    const last = resumed.received.at(-1)!;
    expect(last.type).toBe('job.succeeded');
    expect(union).toEqual(Array.from({ length: last.id }, (_, i) => i + 1));
  });

  it('starts after ?after= when there is no Last-Event-ID', async () => {
    const id = await echo({ steps: 3, stepMs: 0 });
    await api.waitForTerminal(id);
    const stream = follow(id, { query: '?after=4' });
    const received = await stream.until(isTerminal);
    stream.source.close();
    expect(received.map((r) => r.id)).toEqual([5, 6]);
  });

  it('answers 204 to a reconnect after the terminal event, which stops an EventSource', async () => {
    const id = await echo({ steps: 1, stepMs: 0 });
    await api.waitForTerminal(id);
    const res = await fetch(`${base}/v1/jobs/${id}/stream`, {
      headers: { authorization: `Bearer ${api.key}`, 'last-event-id': '4' },
    });
    expect(res.status).toBe(204);
  });

  it("ends a cancelled job's stream with job.cancelled carrying the whole job", async () => {
    const id = await echo({ steps: 20, stepMs: 1000 });
    await api.waitForStatus(id, 'running');
    const stream = follow(id);
    await stream.until((r) => r.type === 'job.running');
    expect((await api.cancel(id)).status).toBe(200);
    const received = await stream.until(isTerminal);
    stream.source.close();
    expect(received.at(-1)).toMatchObject({
      type: 'job.cancelled',
      data: { data: { id, status: 'cancelled' } },
    });
    expect(received.map((r) => r.id)).toEqual(Array.from({ length: received.length }, (_, i) => i + 1));
  });

  it("answers 404 for another tenant's job on the events and stream routes, as for an unknown job", async () => {
    const id = await echo({ steps: 1, stepMs: 0 });
    const events = await other.call('GET', `/v1/jobs/${id}/events`);
    expect(events.status).toBe(404);
    const stream = await fetch(`${base}/v1/jobs/${id}/stream`, {
      headers: { authorization: `Bearer ${other.key}` },
    });
    expect(stream.status).toBe(404);
    expect(stream.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await stream.json()).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('rejects a malformed Last-Event-ID and out-of-range limits with 400', async () => {
    const id = await echo({ steps: 1, stepMs: 0 });
    const stream = await fetch(`${base}/v1/jobs/${id}/stream`, {
      headers: { authorization: `Bearer ${api.key}`, 'last-event-id': 'nope' },
    });
    expect(stream.status).toBe(400);
    expect((await api.call('GET', `/v1/jobs/${id}/events?limit=1001`)).status).toBe(400);
    expect((await api.call('GET', `/v1/jobs/${id}/events?limit=0`)).status).toBe(400);
  });
});

describe('Prefer: wait', () => {
  it('answers a quick job with 200, the terminal job and Preference-Applied', async () => {
    const res = await api.create(
      { agent: 'echo', input: { message: 'quick', steps: 1, stepMs: 0 } },
      { prefer: 'wait=5' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=5');
    expect(res.body.status).toBe('succeeded');
    expect(res.headers.get('retry-after')).toBeNull();
  });

  it('answers a slow job with the usual 202 once the wait is over', async () => {
    const res = await api.create(
      { agent: 'echo', input: { message: 'slow', steps: 3, stepMs: 3000 } },
      { prefer: 'wait=1' },
    );
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBeNull();
    expect(res.headers.get('retry-after')).not.toBeNull();
    await api.cancel(res.body.id);
  });

  it('holds GET /v1/jobs/{id} until the job finishes', async () => {
    const id = await echo({ steps: 2, stepMs: 300 });
    const res = await api.call('GET', `/v1/jobs/${id}`, { headers: { prefer: 'wait=15' } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('succeeded');
    expect(res.headers.get('preference-applied')).toBe('wait=15');
  });
});
