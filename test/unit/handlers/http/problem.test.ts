import { describe, expect, it } from 'vitest';
import {
  DomainError,
  ERROR_CODES,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
  ValidationError,
} from '../../../../lambdas/domain/errors.js';
import { problem, problemFromError, statusForCode } from '../../../../lambdas/handlers/http/problem.js';
import { expectProblem } from '../../support/fixtures.js';

const EXPECTED_STATUS: Record<string, number> = {
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

describe('problem details', () => {
  it('maps every error code to its status', () => {
    expect(Object.keys(EXPECTED_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(statusForCode(code)).toBe(EXPECTED_STATUS[code]);
  });

  it.each(ERROR_CODES.map((c) => [c]))('%s is a complete RFC 9457 answer', (code) => {
    const res = problem(code, 'what happened');
    const body = expectProblem(res, EXPECTED_STATUS[code] as number, code);
    expect(body).toEqual({
      type: `urn:agent-jobs:problem:${code}`,
      title: expect.any(String),
      status: EXPECTED_STATUS[code],
      detail: 'what happened',
      code,
    });
    expect(res.headers?.['Cache-Control']).toBe('no-store');
  });

  it('carries field errors for validation', () => {
    const { response, unexpected } = problemFromError(
      new ValidationError('bad', [{ path: 'body.agent', message: 'Required' }]),
    );
    expect(unexpected).toBe(false);
    expect(expectProblem(response, 400, 'validation_failed').errors).toEqual([
      { path: 'body.agent', message: 'Required' },
    ]);
  });

  it('adds the Retry-After a QuotaExceededError names', () => {
    const { response } = problemFromError(new QuotaExceededError('queue full', 7));
    expectProblem(response, 429, 'quota_exceeded');
    expect(response.headers?.['Retry-After']).toBe('7');
  });

  it('adds the Retry-After a RateLimitedError names', () => {
    const { response } = problemFromError(new RateLimitedError('slow down', 42));
    expectProblem(response, 429, 'rate_limited');
    expect(response.headers?.['Retry-After']).toBe('42');
  });

  it('adds Retry-After to idempotency_key_in_use', () => {
    const { response } = problemFromError(new DomainError('idempotency_key_in_use', 'busy'));
    expectProblem(response, 409, 'idempotency_key_in_use');
    expect(response.headers?.['Retry-After']).toBe('1');
  });

  it('uses the domain error message as detail', () => {
    const { response } = problemFromError(new NotFoundError());
    expect(expectProblem(response, 404, 'not_found').detail).toBe('job not found');
  });

  it.each([[new Error('db password is hunter2')], ['a string'], [undefined]])(
    'hides unexpected errors behind a 500',
    (error) => {
      const { response, unexpected } = problemFromError(error);
      expect(unexpected).toBe(true);
      const body = expectProblem(response, 500, 'internal_error');
      expect(JSON.stringify(body)).not.toContain('hunter2');
    },
  );
});
