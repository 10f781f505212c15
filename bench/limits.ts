import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { lambdaContext } from '../lambdas/local/lambda-context.js';
import type { BenchContext, Figures } from './context.js';
import { quiescence } from './ddb-counter.js';
import { percentile, round, timed } from './stats.js';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** High enough that nothing in the run is refused: the figures are about admitted requests. */
const LIMIT = 1_000_000;

/**
 * The request-rate limiter's cost, measured on the handlers the local stack runs, called in-process
 * with the authorizer's context with and without the tenant's rate in it (without it, the limiter
 * stands aside): the same code path, the same run, differing only in the limiter.
 */
export async function benchLimits(ctx: BenchContext): Promise<Figures> {
  const { handler: getJob } = (await import('../lambdas/handlers/get-job.js')) as { handler: Handler };
  const { handler: createJob } = (await import('../lambdas/handlers/create-job.js')) as { handler: Handler };
  const tenant = `bench-limits-${Date.now().toString(36)}`;
  const limited = { tenant, requestsPerMinute: LIMIT };
  const unlimited = { tenant };
  const rounds = ctx.quick ? 100 : 400;

  const created = await createJob(submitEvent(unlimited), lambdaContext('create-job', 30_000));
  const jobId = (JSON.parse(created.body) as { id: string }).id;
  await quiescence(ctx.counter);

  // Reads and writes of a limited GET beyond an unlimited one are the limiter's own.
  const perGet = async (authorizer: Record<string, unknown>) => {
    const before = ctx.counter.snapshot();
    const ms: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const { ms: one, value } = await timed(() =>
        getJob(getEvent(authorizer, jobId), lambdaContext('get-job', 30_000)),
      );
      if (value.statusCode !== 200) throw new Error(`GET answered ${value.statusCode}`);
      ms.push(one);
    }
    return { ...ctx.counter.since(before), p50: percentile(ms, 50) };
  };
  const without = await perGet(unlimited);
  const withLimiter = await perGet(limited);

  // Submits alternate between the two, so load drift touches both alike.
  const submitMs: Record<'with' | 'without', number[]> = { with: [], without: [] };
  for (let i = 0; i < rounds; i++) {
    for (const [name, authorizer] of [
      ['without', unlimited],
      ['with', limited],
    ] as const) {
      const { ms, value } = await timed(() =>
        createJob(submitEvent(authorizer), lambdaContext('create-job', 30_000)),
      );
      if (value.statusCode !== 202) throw new Error(`submit answered ${value.statusCode}`);
      submitMs[name].push(ms);
    }
  }
  const p50 = (xs: number[]) => percentile(xs, 50);
  ctx.log(`limits: ${rounds} GETs and ${rounds} submits each way`);
  return {
    'limits.writesPerAdmittedRequest': round((withLimiter.writes - without.writes) / rounds, 3),
    'limits.readsPerAdmittedRequest': round((withLimiter.reads - without.reads) / rounds, 3),
    'limits.getP50Ms.withLimiter': round(withLimiter.p50),
    'limits.getP50Ms.withoutLimiter': round(without.p50),
    'limits.submitP50Ms.withLimiter': round(p50(submitMs.with)),
    'limits.submitP50Ms.withoutLimiter': round(p50(submitMs.without)),
    'limits.submitOverheadRatio': round(p50(submitMs.with) / p50(submitMs.without), 3),
  };
}

function baseEvent(authorizer: Record<string, unknown>): Partial<APIGatewayProxyEvent> {
  return {
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    isBase64Encoded: false,
    requestContext: { authorizer, requestId: `bench-${Math.random()}` } as never,
  };
}

export function getEvent(authorizer: Record<string, unknown>, id: string): APIGatewayProxyEvent {
  return {
    ...baseEvent(authorizer),
    httpMethod: 'GET',
    path: `/jobs/${id}`,
    resource: '/jobs/{id}',
    pathParameters: { id },
    body: null,
  } as APIGatewayProxyEvent;
}

export function submitEvent(authorizer: Record<string, unknown>): APIGatewayProxyEvent {
  return {
    ...baseEvent(authorizer),
    httpMethod: 'POST',
    path: '/jobs',
    resource: '/jobs',
    pathParameters: null,
    body: JSON.stringify({ agent: 'echo', input: { message: 'limits bench', steps: 1, stepMs: 0 } }),
  } as APIGatewayProxyEvent;
}
