import type { APIGatewayProxyResult } from 'aws-lambda';
import type { Job } from '../../domain/job.js';
import { toJobView } from '../../domain/job.js';
import { retryAfterSeconds } from '../../domain/retry-after.js';

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * A job answer carries Retry-After exactly while the job is not terminal (API contract, "Polling").
 * `extra` adds what only some answers know (a queued job's place in its queue).
 */
export function jobResponse(
  statusCode: number,
  job: Job,
  now: Date,
  headers: Record<string, string> = {},
  extra: { queue?: { position: number } } = {},
) {
  const retryAfter = retryAfterSeconds(job, now);
  return json(
    statusCode,
    { ...toJobView(job), ...extra },
    {
      ...(retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) }),
      ...headers,
    },
  );
}
