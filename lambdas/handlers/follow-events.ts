import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { streamLeasesFromEnv } from '../adapters/dynamo-stream-leases.js';
import { ENV, optionalSeconds } from '../config/env.js';
import { DEFAULT_STREAM_MAX_SECONDS } from '../config/routes.js';
import { NotFoundError, RateLimitedError } from '../domain/errors.js';
import { ceilSeconds } from '../domain/gcra.js';
import { isTerminal, type Job } from '../domain/job.js';
import { logger } from './http/middleware.js';
import { problemFromError } from './http/problem.js';
import { admitRequest, authorizedLimit } from './http/rate-limit.js';
import { jobIdParam, parseWith, tenantOf } from './http/request.js';
import { SSE_HEADERS, tailEvents } from './http/sse.js';
import { eventSeqSchema, streamQuerySchema } from './http/query-schemas.js';

const store = jobStoreFromEnv();
const leases = streamLeasesFromEnv();
const maxStreamMs = optionalSeconds(ENV.streamMaxSeconds, DEFAULT_STREAM_MAX_SECONDS) * 1000;

/** Time kept back from the Lambda timeout to end the response cleanly. */
const END_MARGIN_MS = 5_000;
/** A lease outlives the function that took it by this much, so only a dead stream's lease runs out. */
const LEASE_MARGIN_MS = 60_000;
const PAGE_SIZE = 100;

/** Last-Event-ID (what an EventSource sends on reconnect) wins over ?after=; with neither, from seq 1. */
function resumePoint(event: APIGatewayProxyEvent): number {
  const header = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'last-event-id')?.[1];
  if (header !== undefined && header !== '')
    return parseWith(eventSeqSchema, header, 'header.last-event-id', 'Last-Event-ID header');
  const query = parseWith(streamQuerySchema, event.queryStringParameters ?? {}, 'query', 'query string');
  return query.after ?? 0;
}

function answer(out: Writable, result: APIGatewayProxyResult) {
  const body = awslambda.HttpResponseStream.from(out, {
    statusCode: result.statusCode,
    headers: result.headers as Record<string, string>,
  });
  body.end(result.body);
}

/**
 * Takes one of the tenant's `maxStreams` stream leases for as long as this function may run, or
 * refuses with 429 `rate_limited`. Returns the lease's release.
 */
async function takeStreamLease(
  event: APIGatewayProxyEvent,
  tenant: string,
  context: Context,
): Promise<() => Promise<void>> {
  const max = authorizedLimit(event, 'maxStreams');
  if (max === undefined) return async () => {};
  const streamId = randomUUID();
  const leaseMs = context.getRemainingTimeInMillis() + LEASE_MARGIN_MS;
  const decision = await leases.acquire(tenant, streamId, { max, leaseMs }, Date.now());
  if (!decision.admitted) {
    throw new RateLimitedError(
      `over ${max} concurrent event streams; retry after the Retry-After seconds`,
      ceilSeconds(decision.retryAfterMs),
    );
  }
  return () =>
    leases
      .release(tenant, streamId)
      .catch((error: unknown) => logger.warn('stream lease not released', { error: error as Error }));
}

/** Writes the job's events after `after` until its end, the stream's deadline or the client leaving. */
function follow(out: Writable, job: Job, after: number, context: Context, signal: AbortSignal) {
  const read = async (cursor: number) =>
    (await store.listEvents(job.tenant, job.id, { after: cursor, limit: PAGE_SIZE, since: job.createdAt }))
      .events;
  return tailEvents(out, read, after, {
    deadline: Date.now() + Math.min(maxStreamMs, context.getRemainingTimeInMillis() - END_MARGIN_MS),
    keepAliveMs: 15_000,
    firstPollMs: 100,
    maxPollMs: 2_000,
    pageSize: PAGE_SIZE,
    signal,
  });
}

/**
 * GET /v1/jobs/{id}/stream: the job's event log as Server-Sent Events. The request counts against
 * the tenant's rate and each open stream holds one of its stream leases. Problems (429 included)
 * are answered before any event; a reconnect after the terminal event gets 204, which tells an
 * EventSource to stop. Every answer carries the RateLimit fields.
 */
export const handler = awslambda.streamifyResponse(
  async (event: APIGatewayProxyEvent, responseStream: Writable, context: Context) => {
    const gone = new AbortController();
    responseStream.on('close', () => gone.abort());
    responseStream.on('error', () => gone.abort());
    let headers: Record<string, string> = {};
    let opened: Writable | undefined;
    try {
      const admission = await admitRequest(event);
      headers = admission.headers;
      if (admission.refused) throw admission.refused;
      const tenant = tenantOf(event);
      const id = jobIdParam(event);
      const after = resumePoint(event);
      const job = await store.get(tenant, id, new Date());
      if (!job) throw new NotFoundError();
      if (isTerminal(job.status) && after >= job.eventSeq) {
        answer(responseStream, {
          statusCode: 204,
          headers: { 'Cache-Control': 'no-cache', ...headers },
          body: '',
        });
        return;
      }
      const release = await takeStreamLease(event, tenant, context);
      try {
        opened = awslambda.HttpResponseStream.from(responseStream, {
          statusCode: 200,
          headers: { ...SSE_HEADERS, ...headers },
        });
        await follow(opened, job, after, context, gone.signal);
        opened.end();
      } finally {
        await release();
      }
    } catch (error) {
      const { response, unexpected } = problemFromError(error);
      if (unexpected) logger.error('stream failed', { error: error as Error });
      // Once events flowed the status is sent: ending lets the client reconnect from its last id.
      if (opened) opened.end();
      else answer(responseStream, { ...response, headers: { ...response.headers, ...headers } });
    }
  },
);
