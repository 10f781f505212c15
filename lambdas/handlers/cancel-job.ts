import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { largeValueStoreFromEnv } from '../adapters/s3-large-value-store.js';
import { httpHandler } from './http/middleware.js';
import { jobIdParam, tenantOf } from './http/request.js';
import { jobResponse } from './http/response.js';

const store = jobStoreFromEnv(process.env, largeValueStoreFromEnv());

/**
 * One conditional write moves the job to `cancelled`; stopping the execution follows from that
 * write through the table's stream, so this handler never does two writes that must both succeed.
 */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  const now = new Date();
  return jobResponse(200, await store.cancel(tenant, id, now), now);
});
