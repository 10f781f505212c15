import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { largeValueStoreFromEnv } from '../adapters/s3-large-value-store.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { JOB_ID_PATTERN } from '../domain/idempotency.js';
import type { ListPosition } from '../domain/cursor.js';
import type { Job } from '../domain/job.js';
import { toJobSummary } from '../domain/job.js';
import { httpHandler } from './http/middleware.js';
import { parseWith, tenantOf } from './http/request.js';
import { json } from './http/response.js';
import { listJobsQuerySchema } from './http/query-schemas.js';

const store = jobStoreFromEnv(process.env, largeValueStoreFromEnv());

/**
 * Most bytes of job summaries one page carries, far below Lambda's 6 MB response limit whatever
 * the jobs hold; a page that reaches it ends early and its cursor continues right after it.
 */
export const MAX_PAGE_BYTES = 1024 * 1024;

type Summary = ReturnType<typeof toJobSummary>;

/** The summaries that fit the byte budget (always at least one), and where the next page starts. */
function fitPage(jobs: Job[], next: ListPosition | undefined) {
  const items: Summary[] = [];
  let bytes = 0;
  for (const job of jobs) {
    const summary = toJobSummary(job);
    bytes += Buffer.byteLength(JSON.stringify(summary)) + 1;
    if (items.length > 0 && bytes > MAX_PAGE_BYTES) {
      const last = items[items.length - 1]!;
      return { items, next: { createdAt: last.createdAt, id: last.id } };
    }
    items.push(summary);
  }
  return { items, next };
}

export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const query = parseWith(listJobsQuerySchema, event.queryStringParameters ?? {}, 'query', 'query string');
  const after = query.cursor === undefined ? undefined : decodeCursor(tenant, query.cursor, JOB_ID_PATTERN);
  const found = await store.list(tenant, { status: query.status, limit: query.limit, after }, new Date());
  const page = fitPage(found.jobs, found.next);
  return json(200, {
    items: page.items,
    nextCursor: page.next ? encodeCursor(tenant, page.next) : null,
  });
});
