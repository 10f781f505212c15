import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { JOB_ID_PATTERN } from '../domain/idempotency.js';
import { toJobView } from '../domain/job.js';
import { httpHandler } from './http/middleware.js';
import { parseWith, tenantOf } from './http/request.js';
import { json } from './http/response.js';
import { listJobsQuerySchema } from './http/query-schemas.js';

const store = jobStoreFromEnv();

export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const query = parseWith(listJobsQuerySchema, event.queryStringParameters ?? {}, 'query', 'query string');
  const after = query.cursor === undefined ? undefined : decodeCursor(tenant, query.cursor, JOB_ID_PATTERN);
  const page = await store.list(tenant, { status: query.status, limit: query.limit, after }, new Date());
  return json(200, {
    items: page.jobs.map(toJobView),
    nextCursor: page.next ? encodeCursor(tenant, page.next) : null,
  });
});
