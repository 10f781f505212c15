import createClient, { type Client } from 'openapi-fetch';
import pLimit from 'p-limit';
import type { paths } from './api-types.js';
import { type CallOptions, type ClientContext, JobHandle } from './job-handle.js';
import { ProblemError } from './problem.js';
import { RateLimitPacer } from './rate-limit.js';
import { type RetryOptions, retryPolicy } from './retry.js';
import { retryAfterMs } from './timing.js';
import { type FetchLike, retryingFetch } from './transport.js';
import type { Agent, CreateJobRequest, Job, JobStatus, JobSummary, UsageReport } from './types.js';

export interface AgentJobsClientOptions {
  /** Where the API is, e.g. `http://127.0.0.1:3000` or the stage URL of a deployed stack. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`. */
  apiKey?: string;
  retry?: RetryOptions;
  /**
   * With this many requests or fewer left in the server's rate-limit window (the `RateLimit`
   * header), the client spreads its requests over the rest of the window (default 10).
   */
  rateLimitLowWater?: number;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: FetchLike;
  /** Terminal jobs kept in memory, so they are never fetched again (default 1000, the most recent). */
  maxCachedJobs?: number;
}

export interface CreateJobOptions extends CallOptions {
  /** Reused on every retry of this call; generated when not given. Give your own to dedupe across processes. */
  idempotencyKey?: string;
  /** Hold the request up to this many seconds (at most 20) so a quick job comes back finished. */
  waitSeconds?: number;
}

export interface ListJobsOptions extends CallOptions {
  status?: JobStatus;
  /** Jobs per page (1..100, default 20). */
  pageSize?: number;
}

export interface UsageOptions extends CallOptions {
  /** First UTC day, `YYYY-MM-DD` (default 29 days before `to`). */
  from?: string;
  /** Last UTC day, `YYYY-MM-DD`, at most 92 days after `from` (default today, UTC). */
  to?: string;
}

export interface RunManyOptions extends CallOptions {
  /** Jobs in flight at once, each from submit to its end (default 4). */
  concurrency?: number;
  /** Bound on each job's wait; a job still running then is reported as a WaitTimeoutError. */
  timeoutMs?: number;
}

/** One entry per input of runMany: the terminal job (whatever its status), or why there is none. */
export type RunResult = { ok: true; job: Job } | { ok: false; error: unknown; jobId?: string };

/** Random, unguessable, and available in every runtime (randomUUID needs a secure context in browsers). */
function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `ik_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The agent-jobs API from code: submit jobs, wait for them, follow their events. Retries what is
 * safe to retry (with the same Idempotency-Key for submits), paces itself by Retry-After and the
 * RateLimit headers, and keeps terminal jobs. No dependency on any AWS SDK; runs wherever `fetch` does.
 */
export class AgentJobsClient {
  private readonly api: Client<paths>;
  private readonly ctx: ClientContext;
  private readonly terminal = new Map<string, Job>();
  private readonly maxCachedJobs: number;

  constructor(options: AgentJobsClientOptions) {
    const policy = retryPolicy(options.retry);
    const pacer = new RateLimitPacer(options.rateLimitLowWater ?? 10);
    const base: FetchLike = options.fetch ?? ((request) => fetch(request));
    this.api = createClient<paths>({
      baseUrl: options.baseUrl,
      fetch: retryingFetch(base, policy, pacer, 'idempotent'),
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    });
    this.maxCachedJobs = options.maxCachedJobs ?? 1000;
    this.ctx = {
      api: this.api,
      unsentFetch: retryingFetch(base, policy, pacer, 'unsent'),
      retry: policy,
      rememberTerminal: (job) => this.keep(job),
    };
  }

  /** Submits a job. Safe to call again after an error: its retries reuse one Idempotency-Key. */
  async createJob(request: CreateJobRequest, options: CreateJobOptions = {}): Promise<JobHandle> {
    const { data, error, response } = await this.api.POST('/v1/jobs', {
      params: {
        header: {
          'idempotency-key': options.idempotencyKey ?? newIdempotencyKey(),
          prefer: options.waitSeconds ? `wait=${options.waitSeconds}` : undefined,
        },
      },
      body: request,
      signal: options.signal,
    });
    if (!data) throw new ProblemError(response.status, error);
    return new JobHandle(data.id, this.ctx, { job: data, retryAfterMs: retryAfterMs(response.headers) });
  }

  /** A handle on an existing job, e.g. one created by an earlier process. Makes no request. */
  job(id: string): JobHandle {
    const known = this.terminal.get(id);
    return new JobHandle(id, this.ctx, known && { job: known });
  }

  /** The job now (a terminal job the client has seen is answered from memory). */
  getJob(id: string, options: CallOptions = {}): Promise<Job> {
    return this.job(id).get(options);
  }

  /**
   * The tenant's jobs, newest first, fetched a page at a time as the loop asks for more. Listings
   * leave out each job's `input` and `result`: `getJob(id)` has them.
   */
  async *listJobs({ status, pageSize, signal }: ListJobsOptions = {}): AsyncGenerator<
    JobSummary,
    void,
    undefined
  > {
    let cursor: string | undefined;
    do {
      const { data, error, response } = await this.api.GET('/v1/jobs', {
        params: { query: { status, limit: pageSize, cursor } },
        signal,
      });
      if (!data) throw new ProblemError(response.status, error);
      yield* data.items;
      cursor = data.nextCursor ?? undefined;
    } while (cursor);
  }

  /** The agents this deployment runs, each with its version, input schema and availability. */
  async listAgents({ signal }: CallOptions = {}): Promise<Agent[]> {
    const { data, error, response } = await this.api.GET('/v1/agents', { signal });
    if (!data) throw new ProblemError(response.status, error);
    return data.items;
  }

  /** One agent by name; a name the deployment does not know is a ProblemError with status 404. */
  async getAgent(name: string, { signal }: CallOptions = {}): Promise<Agent> {
    const { data, error, response } = await this.api.GET('/v1/agents/{name}', {
      params: { path: { name } },
      signal,
    });
    if (!data) throw new ProblemError(response.status, error);
    return data;
  }

  /** The tenant's consumption per UTC day (days without activity left out) and its effective limits. */
  async usage({ from, to, signal }: UsageOptions = {}): Promise<UsageReport> {
    const { data, error, response } = await this.api.GET('/v1/usage', {
      params: { query: { from, to } },
      signal,
    });
    if (!data) throw new ProblemError(response.status, error);
    return data;
  }

  /**
   * Runs many jobs, at most `concurrency` at a time (each from submit to its end), and slower when the
   * server's rate limit runs low. Results come in input order, one per input; a failure is reported in
   * its entry and never stops the others.
   */
  async runMany(inputs: readonly CreateJobRequest[], options: RunManyOptions = {}): Promise<RunResult[]> {
    const { concurrency = 4, timeoutMs, signal } = options;
    const limit = pLimit(concurrency);
    // A held submit saves quick jobs a poll; it never holds longer than the caller's bound.
    const waitSeconds = Math.min(20, Math.floor((timeoutMs ?? Infinity) / 1000));
    return Promise.all(
      inputs.map((input) =>
        limit(async (): Promise<RunResult> => {
          const started = Date.now();
          let handle: JobHandle | undefined;
          try {
            handle = await this.createJob(input, { signal, waitSeconds });
            const left =
              timeoutMs === undefined ? undefined : Math.max(0, timeoutMs - (Date.now() - started));
            return { ok: true, job: await handle.wait({ signal, timeoutMs: left }) };
          } catch (error) {
            return { ok: false, error, ...(handle ? { jobId: handle.id } : {}) };
          }
        }),
      ),
    );
  }

  private keep(job: Job): void {
    this.terminal.delete(job.id);
    this.terminal.set(job.id, job);
    // Maps iterate in insertion order: the first key is the least recently seen.
    if (this.terminal.size > this.maxCachedJobs) this.terminal.delete(this.terminal.keys().next().value!);
  }
}
