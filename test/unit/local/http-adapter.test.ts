import { type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayRequestAuthorizerEvent,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type ApiRoute } from '../../../lambdas/config/routes.js';
import '../../../lambdas/local/awslambda.js';
import {
  buildAuthorizerEvent,
  buildProxyEvent,
  createHttpAdapter,
  matchRoute,
  policyAllows,
  type RawRequest,
  type RouteMatch,
} from '../../../lambdas/local/http-adapter.js';
import type { LambdaHandler } from '../../../lambdas/local/task-handlers.js';

const raw = (over: Partial<RawRequest>): RawRequest => ({
  method: 'GET',
  url: '/v1/jobs/job_x',
  rawHeaders: ['Host', 'localhost:3000', 'Authorization', 'Bearer k'],
  sourceIp: '127.0.0.1',
  body: null,
  requestId: 'req-1',
  receivedAt: new Date('2026-11-22T10:00:00Z'),
  ...over,
});

const problemOf = async (res: Response) => (await res.json()) as { code: string };

const match = (method: string, path: string) => matchRoute(API_ROUTES, method, path) as RouteMatch;

describe('matchRoute', () => {
  it('matches path templates and extracts parameters', () => {
    expect(match('GET', '/v1/jobs/job_1')).toMatchObject({
      resource: '/jobs/{id}',
      pathParameters: { id: 'job_1' },
    });
    expect(match('POST', '/v1/jobs/job_1/cancel').route.handler).toBe('cancel-job');
    expect(match('GET', '/v1/jobs').pathParameters).toBeNull();
  });

  it('finds no route for a method the path does not have, as for an unknown path', () => {
    expect(matchRoute(API_ROUTES, 'PUT', '/v1/jobs/job_1')).toBeUndefined();
    expect(matchRoute(API_ROUTES, 'GET', '/v1/jobs/job_1/nope')).toBeUndefined();
    expect(matchRoute(API_ROUTES, 'GET', '/jobs/job_1')).toBeUndefined();
  });
});

describe('buildProxyEvent', () => {
  it('builds the REST API (v1) proxy event API Gateway sends', () => {
    const event = buildProxyEvent(raw({}), match('GET', '/v1/jobs/job_x'), {
      tenant: 'dev',
      principalId: 'dev',
    });
    expect(event).toMatchObject({
      resource: '/jobs/{id}',
      path: '/jobs/job_x',
      httpMethod: 'GET',
      headers: { Host: 'localhost:3000', Authorization: 'Bearer k' },
      multiValueHeaders: { Host: ['localhost:3000'], Authorization: ['Bearer k'] },
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: { id: 'job_x' },
      stageVariables: null,
      body: null,
      isBase64Encoded: false,
    } satisfies Partial<APIGatewayProxyEvent>);
    expect(event.requestContext).toMatchObject({
      path: '/v1/jobs/job_x',
      stage: 'v1',
      resourcePath: '/jobs/{id}',
      httpMethod: 'GET',
      requestId: 'req-1',
      requestTimeEpoch: Date.parse('2026-11-22T10:00:00Z'),
      identity: { sourceIp: '127.0.0.1' },
      authorizer: { tenant: 'dev', principalId: 'dev' },
    });
  });

  it('keeps repeated query parameters and headers, the last one winning in the single-value maps', () => {
    const event = buildProxyEvent(
      raw({
        url: '/v1/jobs?status=running&status=pending&limit=5&q=a%20b',
        rawHeaders: ['X-A', '1', 'x-a', '2'],
        body: '{}',
      }),
      match('GET', '/v1/jobs'),
      undefined,
    );
    expect(event.queryStringParameters).toEqual({ status: 'pending', limit: '5', q: 'a b' });
    expect(event.multiValueQueryStringParameters).toEqual({
      status: ['running', 'pending'],
      limit: ['5'],
      q: ['a b'],
    });
    expect(event.headers).toEqual({ 'X-A': '2' });
    expect(event.multiValueHeaders).toEqual({ 'X-A': ['1', '2'] });
    expect(event.pathParameters).toBeNull();
    expect(event.body).toBe('{}');
    expect(event.requestContext.authorizer).toBeUndefined();
  });
});

describe('buildAuthorizerEvent', () => {
  it('builds a REQUEST authorizer event with the method ARN of the call', () => {
    const event = buildAuthorizerEvent(
      raw({ method: 'POST', url: '/v1/jobs/job_x/cancel' }),
      match('POST', '/v1/jobs/job_x/cancel'),
    );
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:000000000000:local/v1/POST/jobs/job_x/cancel',
      resource: '/jobs/{id}/cancel',
      path: '/jobs/job_x/cancel',
      pathParameters: { id: 'job_x' },
    } satisfies Partial<APIGatewayRequestAuthorizerEvent>);
  });
});

describe('policyAllows', () => {
  const policy = (Effect: 'Allow' | 'Deny', Resource: string | string[]): APIGatewayAuthorizerResult => ({
    principalId: 'p',
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect, Resource }],
    },
  });
  const arn = 'arn:aws:execute-api:us-east-1:000000000000:local/v1/GET/jobs/job_x';

  it('allows what an Allow covers, wildcards included', () => {
    expect(policyAllows(policy('Allow', arn), arn)).toBe(true);
    expect(policyAllows(policy('Allow', 'arn:aws:execute-api:us-east-1:000000000000:local/v1/*'), arn)).toBe(
      true,
    );
  });

  it('denies on an explicit Deny or when nothing covers the method', () => {
    expect(policyAllows(policy('Deny', '*'), arn)).toBe(false);
    expect(
      policyAllows(policy('Allow', 'arn:aws:execute-api:us-east-1:000000000000:local/v1/POST/*'), arn),
    ).toBe(false);
  });
});

/** An adapter over `handlers` on a free port for the enclosing describe; `url` is set once it listens. */
function serve(handlers: Record<string, LambdaHandler>, routes?: readonly ApiRoute[]) {
  const server = createHttpAdapter({ loadHandler: async (name) => handlers[name]!, routes });
  const served = { url: '' };
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    served.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return served;
}

describe('createHttpAdapter', () => {
  const seen: APIGatewayProxyEvent[] = [];
  const handlers: Record<string, LambdaHandler> = {
    authorizer: async (event) => {
      const e = event as APIGatewayRequestAuthorizerEvent;
      const key = e.headers?.authorization ?? e.headers?.Authorization;
      if (key !== 'Bearer good' && key !== 'Bearer denied') throw new Error('Unauthorized');
      const Effect = key === 'Bearer good' ? 'Allow' : 'Deny';
      return {
        principalId: 't1',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [{ Action: 'execute-api:Invoke', Effect, Resource: '*' }],
        },
        context: { tenant: 't1' },
      };
    },
    'get-job': async (event) => {
      seen.push(event as APIGatewayProxyEvent);
      return {
        statusCode: 200,
        headers: { 'Content-Type': 'application/json' },
        multiValueHeaders: { 'X-Multi': ['a', 'b'] },
        body: '{"ok":true}',
      };
    },
    'health-live': async () => {
      throw new Error('broken');
    },
  };
  const served = serve(handlers);

  it('runs the authorizer, then the handler with the tenant in the context', async () => {
    const res = await fetch(`${served.url}/v1/jobs/job_1?x=1`, { headers: { Authorization: 'Bearer good' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('x-multi')).toBe('a, b');
    expect(res.headers.get('x-request-id')).toBe(seen.at(-1)!.requestContext.requestId);
    expect(seen.at(-1)!.requestContext.authorizer).toEqual({ tenant: 't1', principalId: 't1' });
  });

  it('answers the gateway problems', async () => {
    const unauthorized = await fetch(`${served.url}/v1/jobs/job_1`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer');
    expect(unauthorized.headers.get('content-type')).toBe('application/problem+json');
    expect(
      (await fetch(`${served.url}/v1/jobs/job_1`, { headers: { Authorization: 'Bearer denied' } })).status,
    ).toBe(401);
    const unknown = await fetch(`${served.url}/v1/nothing`);
    expect(unknown.status).toBe(404);
    expect((await problemOf(unknown)).code).toBe('not_found');
    // API Gateway answers a method the resource lacks like a path it lacks.
    const wrongMethod = await fetch(`${served.url}/v1/jobs/job_1`, { method: 'PUT' });
    expect(wrongMethod.status).toBe(404);
    expect(wrongMethod.headers.get('allow')).toBeNull();
    expect((await problemOf(wrongMethod)).code).toBe('not_found');
  });

  it('turns a throwing handler into a 500 problem', async () => {
    const res = await fetch(`${served.url}/v1/health/live`);
    expect(res.status).toBe(500);
    expect((await problemOf(res)).code).toBe('internal_error');
  });

  it('refuses a body over 10 MiB as API Gateway does, before reading it', async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        `${served.url}/v1/jobs`,
        { method: 'POST', headers: { 'Content-Length': 10 * 1024 * 1024 + 1 } },
        resolve,
      );
      req.on('error', reject);
      // Only the headers go out: the answer must not depend on the body arriving.
      req.flushHeaders();
    });
    res.resume();
    expect(res.statusCode).toBe(413);
    expect(res.headers.connection).toBe('close');
  });
});

describe('createHttpAdapter with a streaming route', () => {
  let clientGone!: () => void;
  const closed = new Promise<void>((resolve) => (clientGone = resolve));
  const handlers: Record<string, LambdaHandler> = {
    authorizer: async () => ({
      principalId: 't1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }],
      },
      context: { tenant: 't1' },
    }),
    'follow-events': awslambda.streamifyResponse(async (event, responseStream) => {
      const tenant = (event as APIGatewayProxyEvent).requestContext.authorizer?.tenant as string;
      const out = awslambda.HttpResponseStream.from(responseStream, {
        statusCode: 200,
        headers: { 'Content-Type': 'text/event-stream' },
      });
      out.write(`data: ${tenant}\n\n`);
      if ((event as APIGatewayProxyEvent).queryStringParameters?.hold) {
        // Runs until the client hangs up, as an open SSE stream does.
        out.on('close', () => clientGone());
        await closed;
        return;
      }
      out.write('data: second\n\n');
      out.end();
    }) as unknown as LambdaHandler,
  };
  const served = serve(handlers);

  it('sends the status and headers the handler chose, then what it wrote, after the authorizer', async () => {
    const res = await fetch(`${served.url}/v1/jobs/job_1/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.text()).toBe('data: t1\n\ndata: second\n\n');
  });

  it('closes the handler’s stream when the client hangs up', async () => {
    const controller = new AbortController();
    const res = await fetch(`${served.url}/v1/jobs/job_1/stream?hold=1`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: t1\n\n');
    controller.abort();
    await expect(closed).resolves.toBeUndefined();
  });
});

describe('createHttpAdapter deadlines', () => {
  let stillRunning = 0;
  const hang = async () => {
    stillRunning++;
    return new Promise<never>(() => {});
  };
  const routes: ApiRoute[] = [
    { method: 'GET', path: '/v1/slow', handler: 'slow', auth: false, timeoutSeconds: 1 },
    {
      method: 'GET',
      path: '/v1/slow/stream',
      handler: 'slow-stream',
      auth: false,
      timeoutSeconds: 1,
      streaming: true,
    },
    { method: 'GET', path: '/v1/quick', handler: 'quick', auth: false, timeoutSeconds: 2 },
  ];
  const served = serve(
    {
      slow: hang,
      'slow-stream': awslambda.streamifyResponse(async (_event, responseStream) => {
        awslambda.HttpResponseStream.from(responseStream, { statusCode: 200, headers: {} }).write(
          ': open\n\n',
        );
        await hang();
      }) as unknown as LambdaHandler,
      quick: async (_event, context) => ({
        statusCode: 200,
        body: String((context as { getRemainingTimeInMillis(): number }).getRemainingTimeInMillis()),
      }),
    },
    routes,
  );

  it('fails a request whose handler outlives its function timeout, as API Gateway does', async () => {
    const res = await fetch(`${served.url}/v1/slow`);
    expect(res.status).toBe(500);
    expect((await problemOf(res)).code).toBe('internal_error');
    expect(stillRunning).toBeGreaterThan(0);
  });

  it('cuts a streamed response off at its function timeout', async () => {
    const res = await fetch(`${served.url}/v1/slow/stream`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it("gives the handler the remaining time of its route's function timeout", async () => {
    const remaining = Number(await (await fetch(`${served.url}/v1/quick`)).text());
    expect(remaining).toBeGreaterThan(1000);
    expect(remaining).toBeLessThanOrEqual(2000);
  });
});
