import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayEventRequestContextWithAuthorizer,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  StreamifyHandler,
} from 'aws-lambda';
import {
  GATEWAY_PROBLEMS,
  type GatewayProblem,
  gatewayProblemBody,
  PROBLEM_CONTENT_TYPE,
} from '../config/gateway-responses.js';
import {
  API_ROUTES,
  API_STAGE,
  type ApiRoute,
  DEFAULT_FUNCTION_TIMEOUT_SECONDS,
  functionTimeoutSeconds,
  INTERNAL_HANDLERS,
  requestDeadlineSeconds,
} from '../config/routes.js';
import { isStreamingHandler, type PreludeStream, type ResponseMetadata } from './awslambda.js';
import { BodyTooLargeError, readBody } from './http-util.js';
import { lambdaContext } from './lambda-context.js';
import type { LambdaHandler } from './task-handlers.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './template.js';

/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const LOCAL_API_ID = 'local';

export interface RouteMatch {
  route: ApiRoute;
  /** The API Gateway resource: the route path without the stage segment, e.g. `/jobs/{id}`. */
  resource: string;
  pathParameters: Record<string, string> | null;
}

interface CompiledRoute {
  route: ApiRoute;
  resource: string;
  pattern: RegExp;
  names: string[];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compile(route: ApiRoute): CompiledRoute {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const source = route.path
    .split('/')
    .map((segment) => (/^\{\w+\}$/.test(segment) ? '([^/]+)' : escapeRegExp(segment)))
    .join('/');
  return {
    route,
    resource: route.path.slice(API_STAGE.length + 1),
    pattern: new RegExp(`^${source}$`),
    names,
  };
}

/** Route tables are compiled once each, not on every request. */
const compiledTables = new WeakMap<readonly ApiRoute[], CompiledRoute[]>();

function compiled(routes: readonly ApiRoute[]): CompiledRoute[] {
  let table = compiledTables.get(routes);
  if (!table) {
    table = routes.map(compile);
    compiledTables.set(routes, table);
  }
  return table;
}

/**
 * The route for the request, or nothing. A method the path does not have is no route either: API
 * Gateway answers it like an unknown path (MISSING_AUTHENTICATION_TOKEN, a 404 in this stack).
 */
export function matchRoute(
  routes: readonly ApiRoute[],
  method: string,
  path: string,
): RouteMatch | undefined {
  for (const c of compiled(routes)) {
    const m = c.route.method === method ? c.pattern.exec(path) : null;
    if (!m) continue;
    const pathParameters = c.names.length ? Object.fromEntries(c.names.map((n, i) => [n, m[i + 1]!])) : null;
    return { route: c.route, resource: c.resource, pathParameters };
  }
  return undefined;
}

/** What the adapter knows about a request before routing; a plain shape so event building is testable. */
export interface RawRequest {
  method: string;
  /** Path and query exactly as on the request line, e.g. `/v1/jobs?status=running`. */
  url: string;
  /** Node's rawHeaders: name, value, name, value… in the casing the client sent. */
  rawHeaders: string[];
  sourceIp: string;
  body: string | null;
  requestId: string;
  receivedAt: Date;
}

export function splitUrl(url: string): { path: string; query: string } {
  const at = url.indexOf('?');
  return at < 0 ? { path: url, query: '' } : { path: url.slice(0, at), query: url.slice(at + 1) };
}

/** Single- and multi-value maps, each name in the casing of its first occurrence. */
function headerMaps(rawHeaders: string[]) {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  const casing = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    const key = casing.get(lower);
    if (key === undefined) {
      casing.set(lower, name);
      multi[name] = [value];
      single[name] = value;
    } else {
      multi[key]!.push(value);
      single[key] = value;
    }
  }
  return { single, multi, casing };
}

function queryMaps(query: string) {
  if (query === '') return { single: null, multi: null };
  const multi: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(query)) multi[k] = [...(multi[k] ?? []), v];
  if (Object.keys(multi).length === 0) return { single: null, multi: null };
  return { single: Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v.at(-1)!])), multi };
}

type RequestContext = APIGatewayEventRequestContextWithAuthorizer<undefined>;

function requestContext(req: RawRequest, match: RouteMatch, userAgent: string | null): RequestContext {
  return {
    accountId: LOCAL_ACCOUNT_ID,
    apiId: LOCAL_API_ID,
    authorizer: undefined,
    domainName: 'localhost',
    extendedRequestId: req.requestId,
    httpMethod: req.method,
    identity: {
      accessKey: null,
      accountId: null,
      apiKey: null,
      apiKeyId: null,
      caller: null,
      clientCert: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: req.sourceIp,
      user: null,
      userAgent,
      userArn: null,
    },
    path: splitUrl(req.url).path,
    protocol: 'HTTP/1.1',
    requestId: req.requestId,
    requestTimeEpoch: req.receivedAt.getTime(),
    resourceId: LOCAL_API_ID,
    resourcePath: match.resource,
    stage: API_STAGE,
  };
}

/** The common part of proxy and authorizer events; `path` is without the stage, as API Gateway sends it. */
function eventBase(req: RawRequest, match: RouteMatch) {
  const headers = headerMaps(req.rawHeaders);
  const { path, query } = splitUrl(req.url);
  const queryParameters = queryMaps(query);
  const userAgentName = headers.casing.get('user-agent');
  const userAgent = userAgentName === undefined ? null : (headers.single[userAgentName] ?? null);
  return {
    resource: match.resource,
    path: path.slice(API_STAGE.length + 1),
    httpMethod: req.method,
    headers: headers.single,
    multiValueHeaders: headers.multi,
    queryStringParameters: queryParameters.single,
    multiValueQueryStringParameters: queryParameters.multi,
    pathParameters: match.pathParameters,
    stageVariables: null,
    requestContext: requestContext(req, match, userAgent),
  };
}

type EventBase = ReturnType<typeof eventBase>;

/** `base` lets one request's authorizer and proxy events share the headers and context built once. */
export function buildAuthorizerEvent(
  req: RawRequest,
  match: RouteMatch,
  base: EventBase = eventBase(req, match),
): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/${API_STAGE}/${req.method}${base.path}`,
    ...base,
  };
}

export function buildProxyEvent(
  req: RawRequest,
  match: RouteMatch,
  authorizer: Record<string, unknown> | undefined,
  base: EventBase = eventBase(req, match),
): APIGatewayProxyEvent {
  return {
    ...base,
    body: req.body,
    isBase64Encoded: false,
    requestContext: { ...base.requestContext, authorizer },
  } as APIGatewayProxyEvent;
}

/** API Gateway's verdict on an authorizer's policy: an explicit Deny wins, else some Allow must cover the method. */
export function policyAllows(result: APIGatewayAuthorizerResult, methodArn: string): boolean {
  const statements = (result.policyDocument?.Statement ?? []) as Array<{
    Effect: string;
    Resource?: string | string[];
  }>;
  const covering = statements.filter((s) =>
    [s.Resource ?? []].flat().some((r) => arnPatternMatches(r, methodArn)),
  );
  return covering.some((s) => s.Effect === 'Allow') && !covering.some((s) => s.Effect === 'Deny');
}

function arnPatternMatches(pattern: string, arn: string): boolean {
  // Authorizers usually allow exactly the method ARN they were called for: no pattern to compile.
  if (!pattern.includes('*')) return pattern === arn;
  const source = pattern.split('*').map(escapeRegExp).join('.*');
  return new RegExp(`^${source}$`).test(arn);
}

export interface HttpAdapterOptions {
  loadHandler: (name: string) => Promise<LambdaHandler>;
  routes?: readonly ApiRoute[];
}

type Reply = Pick<APIGatewayProxyResult, 'statusCode' | 'body'> & Partial<APIGatewayProxyResult>;

const problem = (type: GatewayProblem['type']): Reply => {
  const p = GATEWAY_PROBLEMS.find((g) => g.type === type)!;
  return {
    statusCode: p.status,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, ...p.headers },
    body: gatewayProblemBody(p),
  };
};

/** Serves the API's route table the way API Gateway in front of the Lambda functions would. */
export function createHttpAdapter(options: HttpAdapterOptions): Server {
  const routes = options.routes ?? API_ROUTES;
  const server = createServer((req, res) => {
    const requestId = randomUUID();
    answer(req, res, requestId, routes, options.loadHandler)
      .catch((e: unknown) => {
        console.error(`request ${requestId} ${req.method} ${req.url} failed`, e);
        if (!res.headersSent) return problem('DEFAULT_5XX');
        res.destroy();
        return undefined;
      })
      .then((reply) => {
        if (reply) write(res, reply, requestId);
      });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

/** undefined when a streaming handler already answered on the response itself. */
async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  routes: readonly ApiRoute[],
  load: HttpAdapterOptions['loadHandler'],
): Promise<Reply | undefined> {
  const receivedAt = new Date();
  const method = req.method ?? 'GET';
  const match = matchRoute(routes, method, splitUrl(req.url ?? '/').path);
  if (!match) return problem('MISSING_AUTHENTICATION_TOKEN');
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY_BYTES);
  } catch (e) {
    if (!(e instanceof BodyTooLargeError)) throw e;
    // The rest of the body stays unread, so this connection cannot carry another request.
    const tooLarge = problem('REQUEST_TOO_LARGE');
    return { ...tooLarge, headers: { ...tooLarge.headers, Connection: 'close' } };
  }
  const raw: RawRequest = {
    method,
    url: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    body: body.length > 0 ? body.toString('utf8') : null,
    requestId,
    receivedAt,
  };
  const base = eventBase(raw, match);
  const verdict = match.route.auth
    ? await authorize(buildAuthorizerEvent(raw, match, base), load)
    : { context: undefined };
  if ('denied' in verdict) return verdict.denied;
  const handler = await load(match.route.handler);
  const event = buildProxyEvent(raw, match, verdict.context, base);
  const { route } = match;
  const context = lambdaContext(route.handler, functionTimeoutSeconds(route) * 1000);
  if (route.streaming) {
    if (!isStreamingHandler(handler))
      throw new Error(`handler ${route.handler} is not wrapped in awslambda.streamifyResponse`);
    const stream = new ResponseStream(res, requestId);
    const streaming = handler as unknown as StreamifyHandler;
    // Past the deadline Lambda ends the function and the client sees its stream cut.
    await withDeadline(route, streaming(event, stream as never, context), () => stream.destroy());
    // As in Lambda, the response is complete once the handler's stream has flushed and ended.
    if (!stream.writableEnded) stream.end();
    await finished(stream).catch(() => undefined);
    return undefined;
  }
  const result = (await withDeadline(route, handler(event, context))) as Reply;
  if (typeof result?.statusCode !== 'number')
    throw new Error(`handler ${route.handler} returned a malformed proxy result`);
  return result;
}

export class RequestDeadlineError extends Error {
  override name = 'RequestDeadlineError';
}

/**
 * Stops waiting for a handler once the route's function or integration timeout has passed, as API
 * Gateway does; the request then fails like any failed integration. The handler itself runs on (a
 * local function cannot be frozen), but its late answer goes nowhere.
 */
async function withDeadline<T>(route: ApiRoute, work: Promise<T>, onDeadline = () => {}): Promise<T> {
  const seconds = requestDeadlineSeconds(route);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onDeadline();
      reject(new RequestDeadlineError(`${route.method} ${route.path} ran past its ${seconds} s timeout`));
    }, seconds * 1000);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

type Verdict = { denied: Reply } | { context: Record<string, unknown> | undefined };

async function authorize(
  event: APIGatewayRequestAuthorizerEvent,
  load: HttpAdapterOptions['loadHandler'],
): Promise<Verdict> {
  const authorizer = await load(INTERNAL_HANDLERS.authorizer);
  let result: APIGatewayAuthorizerResult;
  try {
    result = (await authorizer(
      event,
      lambdaContext(INTERNAL_HANDLERS.authorizer, DEFAULT_FUNCTION_TIMEOUT_SECONDS * 1000),
    )) as APIGatewayAuthorizerResult;
  } catch (e) {
    // The one error API Gateway turns into a 401; any other authorizer failure is a 5xx.
    if (e instanceof Error && e.message === 'Unauthorized') return { denied: problem('UNAUTHORIZED') };
    throw e;
  }
  if (!policyAllows(result, event.methodArn)) return { denied: problem('ACCESS_DENIED') };
  return { context: { ...result.context, principalId: result.principalId } };
}

function write(res: ServerResponse, reply: Reply, requestId: string) {
  res.statusCode = reply.statusCode;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, String(value));
  for (const [name, values] of Object.entries(reply.multiValueHeaders ?? {}))
    res.setHeader(name, values.map(String));
  res.setHeader('X-Request-Id', requestId);
  res.end(reply.isBase64Encoded ? Buffer.from(reply.body, 'base64') : reply.body);
}

/**
 * What a streaming handler writes to: status and headers go out first (HttpResponseStream.from),
 * each chunk is flushed to the client at once, and a client that hangs up closes the stream.
 */
class ResponseStream extends Writable implements PreludeStream {
  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: string,
  ) {
    super();
    res.once('close', () => this.destroy());
  }

  writePrelude(metadata: ResponseMetadata) {
    this.res.writeHead(metadata.statusCode ?? 200, { ...metadata.headers, 'X-Request-Id': this.requestId });
    this.res.flushHeaders();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.res.write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void) {
    this.res.end(done);
  }
}

export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}
