import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { webhookOutboxFromEnv } from '../adapters/webhook-outbox.js';
import { deliverySeq, toDeliveryView } from '../domain/delivery.js';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { httpHandler } from './http/middleware.js';
import { jobIdParam, tenantOf } from './http/request.js';
import { json } from './http/response.js';

const jobs = jobStoreFromEnv();
const outbox = webhookOutboxFromEnv();

/**
 * Sends a delivery again: a new round of attempts, due now, with the same `webhook-id` and body
 * (receivers that already have it de-duplicate) and a fresh timestamp and signature. Replaying a
 * delivery that is still being retried restarts its schedule; a replay is itself retried.
 */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  const now = new Date();
  // The job first: another tenant's job is a 404 whatever the rest of the path says.
  if (!(await jobs.get(tenant, id, now))) throw new NotFoundError();
  const seq = deliverySeq(event.pathParameters?.deliveryId ?? '');
  if (seq === undefined) {
    throw new ValidationError('the delivery id is not valid', [
      { path: 'path.deliveryId', message: 'must look like dlv_<number>' },
    ]);
  }
  const delivery = await outbox.replay(tenant, id, seq, now);
  if (!delivery) throw new NotFoundError('delivery');
  return json(202, toDeliveryView(delivery));
});
