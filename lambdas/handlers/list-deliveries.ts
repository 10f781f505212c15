import type { APIGatewayProxyEvent } from 'aws-lambda';
import { deliveryStoreFromEnv } from '../adapters/dynamo-delivery-store.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { toDeliveryView } from '../domain/delivery.js';
import { NotFoundError } from '../domain/errors.js';
import { httpHandler } from './http/middleware.js';
import { jobIdParam, tenantOf } from './http/request.js';
import { json } from './http/response.js';

const jobs = jobStoreFromEnv();
const deliveries = deliveryStoreFromEnv();

/**
 * The job's webhook deliveries with every attempt. The job is looked up first, so deliveries of
 * unknown, foreign and expired jobs are 404 alike: they expire with their job.
 */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  if (!(await jobs.get(tenant, id, new Date()))) throw new NotFoundError();
  const items = await deliveries.list(tenant, id);
  return json(200, { items: items.map(toDeliveryView) });
});
