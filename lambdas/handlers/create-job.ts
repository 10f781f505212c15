import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { largeValueStoreFromEnv } from '../adapters/s3-large-value-store.js';
import { inputTimeoutOf } from '../agents/agent.js';
import { type FindAgentDescriptor, findAgentDescriptor } from '../agents/catalog.js';
import { DomainError, ValidationError } from '../domain/errors.js';
import {
  assertIdempotencyKey,
  idempotencyKeyId,
  newJobId,
  requestFingerprint,
} from '../domain/idempotency.js';
import type { JsonValue } from '../domain/job.js';
import { newJob } from '../domain/job.js';
import { liveExpiry } from '../domain/retention.js';
import { parseDefaultLimits } from '../domain/tenant-limits.js';
import { ENV } from '../config/env.js';
import { httpHandler } from './http/middleware.js';
import { awaitTerminal, preferredWait, waitOutcome } from './http/prefer-wait.js';
import { header, jsonBody, parseWith, tenantOf, zodErrors } from './http/request.js';
import { authorizedLimit, recordRateDecision, requestRateOf } from './http/rate-limit.js';
import { jobResponse } from './http/response.js';
import type { CreateJobRequest } from './http/schemas.js';
import { createJobRequestSchema } from './http/schemas.js';

const store = jobStoreFromEnv(process.env, largeValueStoreFromEnv());
const defaultLimits = parseDefaultLimits(process.env[ENV.defaultLimits]);

/**
 * What the submit's own write is held to: the tenant's queued-job bound as the authorizer resolved
 * it (the defaults when it did not say) and its request rate, admitted in the same transaction.
 */
function submitLimitsOf(event: APIGatewayProxyEvent) {
  return {
    maxQueuedJobs: authorizedLimit(event, 'maxQueuedJobs') ?? defaultLimits.maxQueuedJobs,
    requests: requestRateOf(event),
  };
}

/** Agent lookup, agent input schema and timeout bounds: everything that needs the agent. */
function checkAgainstAgent(
  req: CreateJobRequest,
  find: FindAgentDescriptor,
): { timeout: number; agentVersion: string } {
  const agent = find(req.agent);
  if (!agent) throw new DomainError('unknown_agent', `there is no agent named "${req.agent}"`);
  const unavailable = agent.unavailableReason?.();
  if (unavailable !== undefined) {
    throw new DomainError('agent_unavailable', `the ${agent.name} agent cannot run here: ${unavailable}`);
  }
  const input = agent.inputSchema.safeParse(req.input);
  if (!input.success) {
    throw new ValidationError(
      `the input does not match the ${agent.name} agent's schema`,
      zodErrors(input.error, 'input'),
      'invalid_input',
    );
  }
  const timeout = req.timeoutSeconds ?? agent.defaultTimeoutSeconds;
  if (timeout > agent.maxTimeoutSeconds) {
    throw new ValidationError('timeoutSeconds is too large', [
      {
        path: 'timeoutSeconds',
        message: `must be at most ${agent.maxTimeoutSeconds} for the ${agent.name} agent`,
      },
    ]);
  }
  const inputTimeout = req.inputTimeoutSeconds;
  const { maxSeconds } = inputTimeoutOf(agent);
  if (inputTimeout !== undefined && inputTimeout > maxSeconds) {
    throw new ValidationError('inputTimeoutSeconds is too large', [
      { path: 'inputTimeoutSeconds', message: `must be at most ${maxSeconds} for the ${agent.name} agent` },
    ]);
  }
  return { timeout, agentVersion: agent.version };
}

/**
 * The route over the given agents: deployed over the built-in ones; the local stack adds the agents
 * its tests bring (LocalStackOptions.extraAgents).
 */
export const withAgents = (find: FindAgentDescriptor) =>
  httpHandler(
    async (event: APIGatewayProxyEvent, context: Context) => {
      const tenant = tenantOf(event);
      const key = header(event, 'idempotency-key');
      if (key !== undefined) assertIdempotencyKey(key);
      const req = parseWith(createJobRequestSchema, jsonBody(event), 'body', 'request body');
      const { timeout: timeoutSeconds, agentVersion } = checkAgainstAgent(req, find);

      const now = new Date();
      const id = newJobId(now.getTime());
      const job = newJob(
        id,
        tenant,
        {
          ...req,
          agentVersion,
          input: req.input as JsonValue,
          metadata: req.metadata as Record<string, JsonValue> | undefined,
          timeoutSeconds,
        },
        now,
        liveExpiry(now, timeoutSeconds),
      );
      const fingerprint = requestFingerprint(req);
      const stored = await store.create(
        job,
        fingerprint,
        now,
        key === undefined ? undefined : idempotencyKeyId(tenant, key),
        submitLimitsOf(event),
      );
      if (stored.rate) recordRateDecision(event, stored.rate);
      if (!stored.created && stored.fingerprint !== fingerprint) {
        throw new DomainError(
          'idempotency_key_mismatch',
          'this Idempotency-Key was already used with a different request',
        );
      }
      // A replay honours the preference too: the retried request may be the one that gets to wait.
      const wait = preferredWait(header(event, 'prefer'));
      const latest =
        wait === undefined
          ? stored.job
          : await awaitTerminal(stored.job, wait, context, () => store.get(tenant, id, new Date()));
      const outcome = waitOutcome(latest, wait, 202);
      return jobResponse(outcome.status, latest, new Date(), {
        Location: `/v1/jobs/${stored.job.id}`,
        ...(stored.created ? {} : { 'Idempotent-Replayed': 'true' }),
        ...outcome.headers,
      });
    },
    { rateLimitInHandler: true },
  );

export const handler = withAgents(findAgentDescriptor);
