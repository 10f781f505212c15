import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { largeValueStoreFromEnv } from '../adapters/s3-large-value-store.js';
import { jobSlotsFromEnv } from '../adapters/dynamo-job-slots.js';
import { NotFoundError } from '../domain/errors.js';
import type { Job } from '../domain/job.js';
import { conditionalResponse } from './http/etag.js';
import { httpHandler } from './http/middleware.js';
import { awaitTerminal, preferredWait, waitOutcome } from './http/prefer-wait.js';
import { header, jobIdParam, tenantOf } from './http/request.js';
import { jobResponse } from './http/response.js';

const store = jobStoreFromEnv(process.env, largeValueStoreFromEnv());
const slots = jobSlotsFromEnv();

/** A pending job still waiting for a running slot says where it stands; one admitted says nothing. */
async function queueOf(job: Job) {
  if (job.status !== 'pending') return {};
  const position = await slots.position(job.tenant, job.id);
  return position === undefined ? {} : { queue: { position } };
}

export const handler = httpHandler(async (event: APIGatewayProxyEvent, context: Context) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  const job = await store.get(tenant, id, new Date());
  if (!job) throw new NotFoundError();
  const wait = preferredWait(header(event, 'prefer'));
  const latest =
    wait === undefined
      ? job
      : await awaitTerminal(job, wait, context, () => store.get(tenant, id, new Date()));
  const outcome = waitOutcome(latest, wait, 200);
  return conditionalResponse(
    jobResponse(outcome.status, latest, new Date(), outcome.headers, await queueOf(latest)),
    header(event, 'if-none-match'),
  );
});
