import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AgentJobsClient, WaitTimeoutError } from '../../../client/src/index.js';
import { fakeApi, job, reply, type SeenRequest } from './fake-api.js';

const client = (url: string) => new AgentJobsClient({ baseUrl: url, retry: { baseDelayMs: 10 } });
const gets = (seen: SeenRequest[]) => seen.filter((r) => r.method === 'GET');

/** Serves GET /v1/jobs/{id} from a list of job states, with ETags and 304s like the API. */
function jobServer(states: Array<Record<string, unknown>>, retryAfter = '1') {
  return (req: SeenRequest, res: ServerResponse, i: number) => {
    const state = states[Math.min(i, states.length - 1)]!;
    const body = JSON.stringify(state);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    const terminal = ['succeeded', 'failed', 'cancelled'].includes(state.status as string);
    const headers: Record<string, string> = { etag, ...(terminal ? {} : { 'retry-after': retryAfter }) };
    if (req.headers['if-none-match'] === etag) return reply(res, 304, undefined, headers);
    reply(res, 200, state, headers);
  };
}

describe('wait', () => {
  const running = job({ status: 'running' });
  const step1 = { ...running, progress: { fraction: 0.5, step: 1, message: null } };
  const done = { ...step1, status: 'succeeded', result: { message: 'hi' } };

  it('polls at the Retry-After pace with If-None-Match, keeps the job across 304s, and reports each change', async () => {
    const api = await fakeApi(jobServer([running, running, step1, step1, done]));
    const seen: unknown[] = [];
    const result = await client(api.url)
      .job(running.id)
      .wait({ onProgress: (j) => seen.push(j.progress.step) });

    expect(result).toEqual(done);
    const polls = gets(api.seen);
    expect(polls).toHaveLength(5);
    expect(polls[0]!.headers['if-none-match']).toBeUndefined();
    for (const poll of polls.slice(1)) expect(poll.headers['if-none-match']).toMatch(/^"[0-9a-f]{16}"$/);
    expect(seen).toEqual([0, 1, 1]);
    polls.slice(1).forEach((poll, n) => expect(poll.at - polls[n]!.at).toBeGreaterThanOrEqual(1000));
    // Progress is wanted, so no poll is held by the server.
    expect(polls.every((p) => p.headers.prefer === undefined)).toBe(true);
  });

  it('without onProgress, each poll asks the server to hold it until the job ends (Prefer: wait=20)', async () => {
    const api = await fakeApi(jobServer([running, done]));
    await client(api.url).job(running.id).wait();
    const polls = gets(api.seen);
    expect(polls.map((r) => r.headers.prefer)).toEqual(['wait=20', 'wait=20']);
    // The Retry-After of a held answer still counts from that answer.
    expect(polls[1]!.at - polls[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("a job just submitted is first polled after the submit's Retry-After", async () => {
    const api = await fakeApi((req, res, i) =>
      i === 0 ? reply(res, 202, running, { 'retry-after': '1' }) : jobServer([done])(req, res, i),
    );
    const handle = await client(api.url).createJob({ agent: 'echo', input: {} });
    await handle.wait({ onProgress: () => undefined });
    expect(api.seen.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(api.seen[1]!.at - api.seen[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('never holds or waits past its timeout', async () => {
    const api = await fakeApi(jobServer([running], '1'));
    await client(api.url)
      .job(running.id)
      .wait({ timeoutMs: 2_500 })
      .catch(() => undefined);
    expect(gets(api.seen)[0]!.headers.prefer).toBe('wait=2');
  });

  it('a timeout throws WaitTimeoutError with the job as last seen, and never cancels it', async () => {
    const api = await fakeApi(jobServer([running], '1'));
    const error = await client(api.url)
      .job(running.id)
      .wait({ timeoutMs: 1_200, onProgress: () => undefined })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ jobId: running.id, job: { status: 'running' } });
    expect(api.seen.every((r) => r.method === 'GET' && r.path === `/v1/jobs/${running.id}`)).toBe(true);
  });

  it('abort stops the wait mid-sleep, without cancelling the job', async () => {
    const api = await fakeApi(jobServer([running], '30'));
    const controller = new AbortController();
    const pending = client(api.url)
      .job(running.id)
      .wait({ signal: controller.signal, onProgress: () => {} });
    await expect.poll(() => api.seen.length).toBe(1);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(api.seen).toHaveLength(1);
  }, 5_000);

  it('keeps terminal jobs: a handle made again from the id answers without a request', async () => {
    const api = await fakeApi(jobServer([done]));
    const c = client(api.url);
    await c.job(running.id).wait();
    expect(await c.job(running.id).wait()).toEqual(done);
    expect(await c.getJob(running.id)).toEqual(done);
    expect(c.job(running.id).job).toEqual(done);
    expect(api.seen).toHaveLength(1);
  });
});

/** Writes SSE messages for events `from..to` of a job whose last event is terminal. */
function sse(res: ServerResponse, seqs: number[], last: number) {
  for (const seq of seqs) {
    const type = seq === last ? 'job.succeeded' : seq === 1 ? 'job.created' : 'job.progress';
    const data = seq === last ? job({ status: 'succeeded' }) : { step: seq };
    res.write(`id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify({ seq, type, at: 'now', data })}\n\n`);
  }
}

describe('events', () => {
  const id = job().id;
  const streamStart = (res: ServerResponse) =>
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });

  it('resumes after a dropped connection with Last-Event-ID, and ends after the terminal event', async () => {
    const api = await fakeApi((req, res, i) => {
      streamStart(res);
      res.write('retry: 50\n\n: keep-alive\n\n');
      if (i === 0) {
        sse(res, [1, 2], 4);
        // Let the client read what was sent, then drop the connection mid-stream.
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      sse(res, [3, 4], 4);
      // The server keeps the connection open: the client ends on the terminal event, not on EOF.
    });

    const events = [];
    for await (const event of client(api.url).job(id).events()) events.push(event);

    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'job.created'],
      [2, 'job.progress'],
      [3, 'job.progress'],
      [4, 'job.succeeded'],
    ]);
    expect(api.seen.map((r) => [r.path, r.headers['last-event-id']])).toEqual([
      [`/v1/jobs/${id}/stream`, undefined],
      [`/v1/jobs/${id}/stream`, '2'],
    ]);
  });

  it('reconnects when the server ends the stream early, skipping nothing and repeating nothing', async () => {
    const api = await fakeApi((req, res, i) => {
      streamStart(res);
      res.write('retry: 10\n\n');
      // The server repeats the last event the client already had; the client drops it.
      if (i === 0) sse(res, [1, 2], 3);
      else sse(res, [2, 3], 3);
      res.end();
    });
    const seqs = [];
    for await (const event of client(api.url).job(id).events()) seqs.push(event.seq);
    expect(seqs).toEqual([1, 2, 3]);
    expect(api.seen[1]!.headers['last-event-id']).toBe('2');
  });

  it('starts after a given seq, and stops at a 204 (the client already has the terminal event)', async () => {
    const api = await fakeApi((req, res) => {
      res.writeHead(204);
      res.end();
    });
    const events = [];
    for await (const event of client(api.url).job(id).events({ after: 7 })) events.push(event);
    expect(events).toEqual([]);
    expect(api.seen[0]!.headers['last-event-id']).toBe('7');
  });

  it('leaving the loop early closes the connection', async () => {
    let closed = false;
    const api = await fakeApi((req, res) => {
      streamStart(res);
      sse(res, [1, 2], 9);
      res.on('close', () => (closed = true));
    });
    for await (const event of client(api.url).job(id).events()) if (event.seq === 1) break;
    await expect.poll(() => closed).toBe(true);
    expect(api.seen).toHaveLength(1);
  });
});

describe('cancel', () => {
  it('POSTs the cancel and keeps the cancelled job', async () => {
    const cancelled = job({ status: 'cancelled' });
    const api = await fakeApi((req, res) => reply(res, 200, cancelled));
    const c = client(api.url);
    expect(await c.job(cancelled.id).cancel()).toEqual(cancelled);
    expect(await c.job(cancelled.id).wait()).toEqual(cancelled);
    expect(api.seen.map((r) => [r.method, r.path])).toEqual([['POST', `/v1/jobs/${cancelled.id}/cancel`]]);
  });
});
