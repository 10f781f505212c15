import type { Client } from 'openapi-fetch';
import type { paths } from './api-types.js';
import { ProblemError, WaitTimeoutError } from './problem.js';
import type { RetryPolicy } from './retry.js';
import { retryDelayMs } from './retry.js';
import { sseMessages } from './sse.js';
import { linkSignals, retryAfterMs, sleep } from './timing.js';
import type { FetchLike } from './transport.js';
import { isTerminal, isTerminalEvent, type Job, type JobEvent } from './types.js';

/** `Prefer: wait` longer than this is treated as this by the API. */
const MAX_HOLD_SECONDS = 20;
/** Poll pace when the server gave none (it always does for a live job). */
const DEFAULT_POLL_MS = 1_000;
/** Pause before reconnecting a stream that ended early, unless the server's `retry:` says otherwise. */
const DEFAULT_RECONNECT_MS = 1_000;

/** What a handle shares with its client. */
export interface ClientContext {
  api: Client<paths>;
  /** For requests that must not be repeated after a lost answer. */
  unsentFetch: FetchLike;
  retry: RetryPolicy;
  /** Called with every terminal job seen, so the client keeps it. */
  rememberTerminal: (job: Job) => void;
}

export interface WaitOptions {
  /** Stops waiting (the job goes on). */
  signal?: AbortSignal;
  /** Bound on the whole wait, not on each request; then WaitTimeoutError, and the job goes on. */
  timeoutMs?: number;
  /**
   * Called with the job each time a poll finds it changed; polls then go out at the server's
   * Retry-After pace. Without it each poll also asks the server to hold it (`Prefer: wait`) until the
   * job ends or 20 s pass, which saves most round trips of a long job.
   */
  onProgress?: (job: Job) => void;
}

export interface EventsOptions {
  /** Seq of the last event already seen: the stream resumes after it (default: from the first). */
  after?: number;
  signal?: AbortSignal;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** One job, by id: what a caller does with it. `client.job(id)` rebuilds one, e.g. after a restart. */
export class JobHandle {
  private latest: { job: Job; etag: string | undefined } | undefined;
  /** When the server's last Retry-After allows the next poll (ms since the epoch). */
  private nextPollAt = 0;

  constructor(
    readonly id: string,
    private readonly ctx: ClientContext,
    known?: { job: Job; retryAfterMs?: number | undefined },
  ) {
    if (known) this.remember(known.job, undefined);
    // A job just submitted: its Retry-After counts from the submit's answer.
    if (known?.retryAfterMs !== undefined) this.nextPollAt = Date.now() + known.retryAfterMs;
  }

  /** The job as last seen by this handle (undefined until fetched, for a handle made from an id). */
  get job(): Job | undefined {
    return this.latest?.job;
  }

  /** The job now. A terminal job is never fetched again. */
  async get({ signal }: CallOptions = {}): Promise<Job> {
    if (this.latest && isTerminal(this.latest.job)) return this.latest.job;
    return (await this.poll(undefined, signal)).job;
  }

  /**
   * Resolves with the job once it is terminal. Between polls it waits the Retry-After the server
   * sent (counted from each answer); each poll carries If-None-Match, so an unchanged job costs no body.
   */
  async wait({ signal, timeoutMs, onProgress }: WaitOptions = {}): Promise<Job> {
    if (this.latest && isTerminal(this.latest.job)) return this.latest.job;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const timeout = new AbortController();
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => timeout.abort(), timeoutMs);
    const linked = linkSignals(signal, timeout.signal);
    try {
      for (;;) {
        await sleep(Math.max(0, this.nextPollAt - Date.now()), linked.signal);
        // A held poll comes back as soon as the job ends; progress is only seen when it returns.
        const hold = onProgress ? 0 : Math.min(MAX_HOLD_SECONDS, Math.floor((deadline - Date.now()) / 1000));
        const { job, changed } = await this.poll(hold >= 1 ? hold : undefined, linked.signal);
        if (changed) onProgress?.(job);
        if (isTerminal(job)) return job;
      }
    } catch (error) {
      if (timeout.signal.aborted && !signal?.aborted)
        throw new WaitTimeoutError(this.id, this.job, timeoutMs!);
      throw error;
    } finally {
      clearTimeout(timer);
      linked.dispose();
    }
  }

  /**
   * The job's events, oldest first, live: `{seq, type, at, data}`. Follows the SSE stream and, when a
   * connection drops or the server ends it early, reconnects with Last-Event-ID, so no event is
   * missed or repeated. Ends after the terminal event.
   */
  async *events({ after = 0, signal }: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    let last = after;
    let reconnectMs = DEFAULT_RECONNECT_MS;
    for (let failures = 0; ;) {
      const { response, error } = await this.ctx.api.GET('/v1/jobs/{id}/stream', {
        params: { path: { id: this.id }, header: { 'last-event-id': last > 0 ? last : undefined } },
        parseAs: 'stream',
        signal,
      });
      if (response.status === 204) return;
      if (!response.ok || !response.body) throw new ProblemError(response.status, error);
      try {
        for await (const message of sseMessages(response.body, (ms) => (reconnectMs = ms))) {
          const event = JSON.parse(message.data) as JobEvent;
          if (event.seq <= last) continue;
          last = event.seq;
          failures = 0;
          if (isTerminalEvent(event)) this.remember(event.data as Job, undefined);
          yield event;
          if (isTerminalEvent(event)) return;
        }
      } catch (error) {
        if (signal?.aborted || failures >= this.ctx.retry.maxRetries) throw error;
        failures++;
      }
      await sleep(failures > 0 ? retryDelayMs(this.ctx.retry, failures - 1) : reconnectMs, signal);
    }
  }

  /** Cancels the job (idempotent); a finished job answers 409 `job_terminal`. */
  async cancel({ signal }: CallOptions = {}): Promise<Job> {
    const { data, error, response } = await this.ctx.api.POST('/v1/jobs/{id}/cancel', {
      params: { path: { id: this.id } },
      signal,
    });
    if (!data) throw new ProblemError(response.status, error);
    return this.remember(data, undefined);
  }

  /** Answers the job's input request; the job runs again. Not repeated after a lost answer. */
  async answer(input: unknown, { signal }: CallOptions = {}): Promise<Job> {
    const { data, error, response } = await this.ctx.api.POST('/v1/jobs/{id}/input', {
      params: { path: { id: this.id } },
      body: { input },
      fetch: this.ctx.unsentFetch,
      signal,
    });
    if (!data) throw new ProblemError(response.status, error);
    return this.remember(data, undefined);
  }

  private async poll(holdSeconds: number | undefined, signal: AbortSignal | undefined) {
    const { data, error, response } = await this.ctx.api.GET('/v1/jobs/{id}', {
      params: {
        path: { id: this.id },
        header: {
          'if-none-match': this.latest?.etag,
          prefer: holdSeconds === undefined ? undefined : `wait=${holdSeconds}`,
        },
      },
      signal,
    });
    this.nextPollAt = Date.now() + (retryAfterMs(response.headers) ?? DEFAULT_POLL_MS);
    if (response.status === 304 && this.latest) return { job: this.latest.job, changed: false };
    if (!data) throw new ProblemError(response.status, error);
    return { job: this.remember(data, response.headers.get('etag') ?? undefined), changed: true };
  }

  private remember(job: Job, etag: string | undefined): Job {
    this.latest = { job, etag };
    if (isTerminal(job)) this.ctx.rememberTerminal(job);
    return job;
  }
}
