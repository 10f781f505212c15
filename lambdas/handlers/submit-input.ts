import type { APIGatewayProxyEvent } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { largeValueStoreFromEnv } from '../adapters/s3-large-value-store.js';
import { DomainError, NotFoundError } from '../domain/errors.js';
import { checkAnswer } from '../domain/input-answer.js';
import type { JsonValue } from '../domain/job.js';
import { isTerminal } from '../domain/job.js';
import { httpHandler } from './http/middleware.js';
import { jobIdParam, jsonBody, parseWith, tenantOf } from './http/request.js';
import { jobResponse } from './http/response.js';
import { submitInputRequestSchema } from './http/schemas.js';

const store = jobStoreFromEnv(process.env, largeValueStoreFromEnv());

/**
 * Answers a job's input request. The read only checks the answer against the request's schema;
 * the one conditional write records it, and resuming the execution follows from that write
 * through the table's stream, so no two writes here must both succeed.
 */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const tenant = tenantOf(event);
  const id = jobIdParam(event);
  const { input } = parseWith(submitInputRequestSchema, jsonBody(event), 'body', 'request body');
  const answer = input as JsonValue;
  const job = await store.get(tenant, id, new Date());
  if (!job) throw new NotFoundError();
  if (job.status !== 'input_required' || !job.inputRequest) {
    throw new DomainError(
      isTerminal(job.status) ? 'job_terminal' : 'invalid_transition',
      `the job is ${job.status}, not waiting for input`,
    );
  }
  checkAnswer(job.inputRequest, answer);
  const now = new Date();
  return jobResponse(200, await store.submitInput(tenant, id, answer, now), now);
});
