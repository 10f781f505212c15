import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { expect } from 'vitest';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { Job, JobStatus } from '../../../lambdas/domain/job.js';

export const TABLE_NAME = 'jobs-unit';
export const VALUES_BUCKET = 'job-values-unit';
export const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:agent-jobs';
export const JOB_DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/job-dlq';
export const WEBHOOK_QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhooks';
export const WEBHOOK_DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-dlq';
export const TENANT = 'acme';
export const OTHER_TENANT = 'globex';
export const JOB_ID = 'job_01jd3k5q7x9v2m4n6p8r0s2t4w';

export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'agent-jobs-unit',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:agent-jobs-unit',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/agent-jobs-unit',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

export interface ApiEventOptions {
  method?: string;
  path?: string;
  tenant?: string | null;
  headers?: Record<string, string>;
  body?: string | null;
  isBase64Encoded?: boolean;
  pathParameters?: Record<string, string> | null;
  query?: Record<string, string> | null;
}

/** An API Gateway REST proxy event as it reaches a handler behind the authorizer. */
export function apiEvent(opts: ApiEventOptions = {}): APIGatewayProxyEvent {
  const tenant = opts.tenant === undefined ? TENANT : opts.tenant;
  return {
    httpMethod: opts.method ?? 'GET',
    path: opts.path ?? '/v1/jobs',
    resource: opts.path ?? '/v1/jobs',
    headers: opts.headers ?? {},
    multiValueHeaders: {},
    body: opts.body ?? null,
    isBase64Encoded: opts.isBase64Encoded ?? false,
    pathParameters: opts.pathParameters ?? null,
    queryStringParameters: opts.query ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      authorizer: tenant === null ? null : { tenant },
      httpMethod: opts.method ?? 'GET',
      identity: {} as APIGatewayProxyEvent['requestContext']['identity'],
      path: opts.path ?? '/v1/jobs',
      protocol: 'HTTP/1.1',
      requestId: 'req-1',
      requestTimeEpoch: 0,
      resourceId: 'res',
      resourcePath: opts.path ?? '/v1/jobs',
      stage: 'v1',
    },
  };
}

export function bodyOf(res: APIGatewayProxyResult): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}

export function headerOf(res: APIGatewayProxyResult, name: string): string | undefined {
  const entry = Object.entries(res.headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase());
  return entry === undefined ? undefined : String(entry[1]);
}

/** Asserts an RFC 9457 answer with the project's stable code; returns the parsed body. */
export function expectProblem(
  res: APIGatewayProxyResult,
  status: number,
  code: string,
): Record<string, unknown> {
  expect(res.statusCode).toBe(status);
  expect(headerOf(res, 'content-type')).toBe('application/problem+json');
  const body = bodyOf(res);
  expect(body).toMatchObject({
    status,
    code,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
  expect(body.type).toContain(code);
  expect((body.title as string).length).toBeGreaterThan(0);
  return body;
}

export function expectFieldErrors(body: Record<string, unknown>): Array<{ path: string; message: string }> {
  const errors = body.errors as Array<{ path: string; message: string }>;
  expect(Array.isArray(errors)).toBe(true);
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    expect(typeof e.path).toBe('string');
    expect(typeof e.message).toBe('string');
  }
  return errors;
}

/** A job as the store holds it, with overrides. */
export function makeJob(overrides: Partial<Job> = {}): Job {
  const id = overrides.id ?? JOB_ID;
  return {
    id,
    tenant: TENANT,
    agent: 'echo',
    agentVersion: '1.0.0',
    usage: null,
    status: 'pending' as JobStatus,
    attempt: 1,
    input: { message: 'hi' },
    metadata: {},
    webhook: null,
    timeoutSeconds: 900,
    progress: { fraction: 0, step: 0, message: null },
    result: null,
    error: null,
    inputRequest: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    startedAt: null,
    completedAt: null,
    expiresAt: '2099-01-01T00:00:00.000Z',
    executionName: id,
    eventSeq: 1,
    ...overrides,
  };
}

/** A TTL far in the future: the item is live for every test. */
export const FAR_TTL = 4_070_908_800;

/** A job item as the table holds it (keys, TTL, fingerprint, step count), plus any stored extras. */
export function storedJob<E extends Record<string, unknown> = Record<never, never>>(
  overrides: Partial<Job> = {},
  extra: E = {} as E,
) {
  const job = makeJob(overrides);
  return {
    ...job,
    PK: jobPk(job.tenant, job.id),
    SK: 'JOB',
    ttl: FAR_TTL,
    fingerprint: 'fp',
    completedSteps: 0,
    ...extra,
  };
}

/** What a promise rejected with; fails the test if it resolved. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
