import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { NotFoundError } from '../domain/errors.js';
import { httpHandler } from './http/middleware.js';
import { jobIdParam, parseWith, tenantOf } from './http/request.js';
import { json } from './http/response.js';
import { listEventsQuerySchema } from './http/query-schemas.js';

const store = jobStoreFromEnv();

/** A page of the job's event log. The job is looked up first, so unknown, foreign and expired jobs are 404 alike. */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  const query = parseWith(listEventsQuerySchema, event.queryStringParameters ?? {}, 'query', 'query string');
  const job = await store.get(tenant, id, new Date());
  if (!job) throw new NotFoundError();
  const page = await store.listEvents(tenant, id, { ...query, since: job.createdAt });
  return json(200, { items: page.events, nextCursor: page.next === undefined ? null : String(page.next) });
});
