import type { APIGatewayProxyResult } from 'aws-lambda';
import { PROBLEM_CONTENT_TYPE, problemTypeUri } from '../../config/gateway-responses.js';
import type { ErrorCode, FieldError } from '../../domain/errors.js';
import { DomainError, QuotaExceededError, RateLimitedError } from '../../domain/errors.js';

const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  invalid_input: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  not_found: 404,
  job_terminal: 409,
  invalid_transition: 409,
  idempotency_key_in_use: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unknown_agent: 422,
  agent_unavailable: 422,
  idempotency_key_mismatch: 422,
  rate_limited: 429,
  quota_exceeded: 429,
  internal_error: 500,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

export function statusForCode(code: ErrorCode): number {
  return STATUS[code];
}

/** RFC 9457 problem details, with our stable `code` and, for validation, the failing fields. */
export function problem(
  code: ErrorCode,
  detail: string,
  extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
): APIGatewayProxyResult {
  const status = STATUS[code];
  const body: Record<string, unknown> = {
    type: problemTypeUri(code),
    title: TITLES[status],
    status,
    detail,
    code,
  };
  if (extra.errors) body.errors = extra.errors;
  return {
    statusCode: status,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store', ...extra.headers },
    body: JSON.stringify(body),
  };
}

/** The one place a thrown error becomes an HTTP answer; anything not a DomainError is a 500. */
export function problemFromError(error: unknown): { response: APIGatewayProxyResult; unexpected: boolean } {
  if (error instanceof DomainError) {
    const headers: Record<string, string> =
      error instanceof RateLimitedError || error instanceof QuotaExceededError
        ? { 'Retry-After': String(error.retryAfterSeconds) }
        : error.code === 'idempotency_key_in_use'
          ? { 'Retry-After': '1' }
          : {};
    return {
      response: problem(error.code, error.message, {
        headers,
        ...(error.errors ? { errors: error.errors } : {}),
      }),
      unexpected: false,
    };
  }
  return {
    response: problem('internal_error', 'Something went wrong on our side; retry later.'),
    unexpected: true,
  };
}
