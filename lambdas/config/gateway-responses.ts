/**
 * Answers API Gateway gives on its own (before or instead of a handler). They are problem+json
 * like every other error; CDK installs them as gateway responses and the local HTTP adapter
 * answers with the same bodies.
 */
export interface GatewayProblem {
  readonly type:
    | 'UNAUTHORIZED'
    | 'ACCESS_DENIED'
    | 'MISSING_AUTHENTICATION_TOKEN'
    | 'REQUEST_TOO_LARGE'
    | 'THROTTLED'
    | 'DEFAULT_4XX'
    | 'DEFAULT_5XX';
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export const GATEWAY_PROBLEMS: readonly GatewayProblem[] = [
  {
    type: 'UNAUTHORIZED',
    status: 401,
    code: 'unauthorized',
    title: 'Unauthorized',
    detail: 'A valid API key is required: send Authorization: Bearer <key> or x-api-key: <key>.',
    headers: { 'WWW-Authenticate': 'Bearer' },
  },
  {
    type: 'ACCESS_DENIED',
    status: 401,
    code: 'unauthorized',
    title: 'Unauthorized',
    detail: 'The API key is not valid.',
    headers: { 'WWW-Authenticate': 'Bearer' },
  },
  {
    type: 'MISSING_AUTHENTICATION_TOKEN',
    status: 404,
    code: 'not_found',
    title: 'Not Found',
    detail: 'No such route.',
  },
  {
    type: 'REQUEST_TOO_LARGE',
    status: 413,
    code: 'payload_too_large',
    title: 'Payload Too Large',
    detail: 'The request body is too large.',
  },
  {
    type: 'THROTTLED',
    status: 429,
    code: 'rate_limited',
    title: 'Too Many Requests',
    detail: 'Slow down and retry later.',
  },
  {
    type: 'DEFAULT_4XX',
    status: 400,
    code: 'bad_request',
    title: 'Bad Request',
    detail: 'The request could not be processed.',
  },
  {
    type: 'DEFAULT_5XX',
    status: 500,
    code: 'internal_error',
    title: 'Internal Server Error',
    detail: 'Something went wrong on our side; retry later.',
  },
];

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemTypeUri(code: string): string {
  return `urn:agent-jobs:problem:${code}`;
}

export function gatewayProblemBody(p: GatewayProblem): string {
  return JSON.stringify({
    type: problemTypeUri(p.code),
    title: p.title,
    status: p.status,
    detail: p.detail,
    code: p.code,
  });
}
