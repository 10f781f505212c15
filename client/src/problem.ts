import type { components } from './api-types.js';
import type { Job } from './types.js';

export type FieldError = NonNullable<components['schemas']['Problem']['errors']>[number];

/** An RFC 9457 problem as the API sends it; `retryable` is honoured when a server includes it. */
export type Problem = components['schemas']['Problem'] & { retryable?: boolean };

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as Problem).code === 'string';
}

/** A request the API answered with an error (or with something that was not the API's answer). */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  /** The HTTP status. */
  readonly status: number;
  /** The API's stable error code, e.g. `validation_failed`; `unexpected_response` for a non-API answer. */
  readonly code: string;
  /** The failing fields of a `400`, each with its path and message. */
  readonly errors: FieldError[];
  /** The whole problem body when the API sent one. */
  readonly problem: Problem | undefined;

  constructor(status: number, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    super(problem ? `${status} ${problem.code}: ${problem.detail}` : `unexpected HTTP ${status} answer`);
    this.status = status;
    this.code = problem?.code ?? 'unexpected_response';
    this.errors = problem?.errors ?? [];
    this.problem = problem;
  }
}

/** `wait()` ran out of time. The job itself goes on: resume with `client.job(error.jobId).wait()`. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    readonly jobId: string,
    /** The job as last seen. */
    readonly job: Job | undefined,
    timeoutMs: number,
  ) {
    super(`job ${jobId} is still ${job?.status ?? 'running'} after ${timeoutMs} ms; it goes on`);
  }
}
