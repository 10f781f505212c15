import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { ENV, optionalSeconds } from '../config/env.js';
import { DEFAULT_STREAM_MAX_SECONDS } from '../config/routes.js';
import { NotFoundError } from '../domain/errors.js';
import { isTerminal } from '../domain/job.js';
import { logger } from './http/middleware.js';
import { problemFromError } from './http/problem.js';
import { jobIdParam, parseWith, tenantOf } from './http/request.js';
import { SSE_HEADERS, tailEvents } from './http/sse.js';
import { eventSeqSchema, streamQuerySchema } from './http/query-schemas.js';

const store = jobStoreFromEnv();
const maxStreamMs = optionalSeconds(ENV.streamMaxSeconds, DEFAULT_STREAM_MAX_SECONDS) * 1000;

/** Time kept back from the Lambda timeout to end the response cleanly. */
const END_MARGIN_MS = 5_000;
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
 * GET /v1/jobs/{id}/stream: the job's event log as Server-Sent Events. Problems are answered before
 * any event; a reconnect after the terminal event gets 204, which tells an EventSource to stop.
 */
export const handler = awslambda.streamifyResponse(
  async (event: APIGatewayProxyEvent, responseStream: Writable, context: Context) => {
    const gone = new AbortController();
    responseStream.on('close', () => gone.abort());
    responseStream.on('error', () => gone.abort());
    let opened: Writable | undefined;
    try {
      const tenant = tenantOf(event);
      const id = jobIdParam(event);
      const after = resumePoint(event);
      const job = await store.get(tenant, id, new Date());
      if (!job) throw new NotFoundError();
      if (isTerminal(job.status) && after >= job.eventSeq) {
        answer(responseStream, { statusCode: 204, headers: { 'Cache-Control': 'no-cache' }, body: '' });
        return;
      }
      opened = awslambda.HttpResponseStream.from(responseStream, {
        statusCode: 200,
        headers: { ...SSE_HEADERS },
      });
      const read = async (cursor: number) =>
        (await store.listEvents(tenant, id, { after: cursor, limit: PAGE_SIZE, since: job.createdAt }))
          .events;
      await tailEvents(opened, read, after, {
        deadline: Date.now() + Math.min(maxStreamMs, context.getRemainingTimeInMillis() - END_MARGIN_MS),
        keepAliveMs: 15_000,
        firstPollMs: 100,
        maxPollMs: 2_000,
        pageSize: PAGE_SIZE,
        signal: gone.signal,
      });
      opened.end();
    } catch (error) {
      const { response, unexpected } = problemFromError(error);
      if (unexpected) logger.error('stream failed', { error: error as Error });
      // Once events flowed the status is sent: ending lets the client reconnect from its last id.
      if (opened) opened.end();
      else answer(responseStream, response);
    }
  },
);
