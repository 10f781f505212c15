import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { NotFoundError } from '../domain/errors.js';
import { httpHandler } from './http/middleware.js';
import { jobIdParam, tenantOf } from './http/request.js';
import { jobResponse } from './http/response.js';

const store = jobStoreFromEnv();

export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  const now = new Date();
  const job = await store.get(tenant, id, now);
  if (!job) throw new NotFoundError();
  return jobResponse(200, job, now);
});
