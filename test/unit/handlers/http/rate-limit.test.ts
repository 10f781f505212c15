import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import middy from '@middy/core';
import { describe, expect, it } from 'vitest';
import { gcraDecide, type GcraPolicy } from '../../../../lambdas/domain/gcra.js';
import { problemFromError } from '../../../../lambdas/handlers/http/problem.js';
import { rateLimit } from '../../../../lambdas/handlers/http/rate-limit.js';

const T0 = 1_750_000_000_000;

/** The limiter's arithmetic without its table: the adapter itself is tested against DynamoDB Local. */
function inMemoryLimiter() {
  const tats = new Map<string, number>();
  return {
    calls: [] as string[],
    async admit(tenant: string, policy: GcraPolicy, now: number) {
      this.calls.push(tenant);
      const d = gcraDecide(policy, tats.get(tenant), now);
      if (d.admitted) tats.set(tenant, d.tat);
      return d;
    },
  };
}

function event(authorizer: Record<string, unknown> | undefined): APIGatewayProxyEvent {
  return { requestContext: { authorizer } } as unknown as APIGatewayProxyEvent;
}

function wrapped(limiter: ReturnType<typeof inMemoryLimiter>, now: () => number) {
  let ran = 0;
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(rateLimit(() => limiter, now))
    .use({
      onError: async (request) => {
        request.response = problemFromError(request.error).response;
      },
    })
    .handler(async () => {
      ran++;
      return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{}' };
    });
  return { handler, ran: () => ran };
}

const context = {} as never;

describe('rateLimit middleware', () => {
  it('adds the RateLimit fields to admitted answers', async () => {
    const { handler } = wrapped(inMemoryLimiter(), () => T0);
    const out = await handler(event({ tenant: 'acme', requestsPerMinute: 2 }), context);
    expect(out.statusCode).toBe(200);
    expect(out.headers).toEqual({
      'Content-Type': 'application/json',
      'RateLimit-Policy': '"requests";q=2;w=60',
      RateLimit: '"requests";r=1;t=30',
    });
  });

  it('answers 429 rate_limited with Retry-After and the fields, without running the handler', async () => {
    let now = T0;
    const { handler, ran } = wrapped(inMemoryLimiter(), () => now);
    const ev = event({ tenant: 'acme', requestsPerMinute: 2 });
    await handler(ev, context);
    await handler(ev, context);
    now = T0 + 10_500;
    const out = await handler(ev, context);
    expect(ran()).toBe(2);
    expect(out.statusCode).toBe(429);
    expect(JSON.parse(out.body)).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(out.headers).toMatchObject({
      'Retry-After': '20',
      'RateLimit-Policy': '"requests";q=2;w=60',
      RateLimit: '"requests";r=0;t=50',
    });
  });

  it('leaves public routes (no authorizer context) alone', async () => {
    const limiter = inMemoryLimiter();
    const { handler } = wrapped(limiter, () => T0);
    const out = await handler(event(undefined), context);
    expect(out.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(limiter.calls).toEqual([]);
  });
});
