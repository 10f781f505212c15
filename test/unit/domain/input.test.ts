import { describe, expect, it } from 'vitest';
import { DomainError, ValidationError } from '../../../lambdas/domain/errors.js';
import { checkAnswer, isUsableSchema, MAX_ANSWER_BYTES } from '../../../lambdas/domain/input-answer.js';
import { canTransition, inputWait } from '../../../lambdas/domain/job.js';

const NOW = new Date('2025-06-01T10:00:00.000Z');
const startedSecondsAgo = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();

describe('inputWait', () => {
  const job = { timeoutSeconds: 3_600, startedAt: startedSecondsAgo(100), createdAt: startedSecondsAgo(101) };

  it("waits the agent's default unless the job chose its own", () => {
    expect(inputWait(job, 900, NOW)).toEqual({ seconds: 900, onTimeout: 'input_timeout' });
    expect(inputWait({ ...job, inputTimeoutSeconds: 30 }, 900, NOW)).toEqual({
      seconds: 30,
      onTimeout: 'input_timeout',
    });
  });

  it("never waits past the job's deadline; running out there is a job_timeout", () => {
    expect(inputWait({ ...job, timeoutSeconds: 400 }, 900, NOW)).toEqual({
      seconds: 300,
      onTimeout: 'job_timeout',
    });
  });

  it('waits at least one second, as Step Functions requires', () => {
    expect(inputWait({ ...job, timeoutSeconds: 100 }, 900, NOW)).toEqual({
      seconds: 1,
      onTimeout: 'job_timeout',
    });
    expect(inputWait({ ...job, inputTimeoutSeconds: 0 }, 900, NOW).seconds).toBe(1);
  });

  it('counts from creation when the job has not recorded a start', () => {
    const unstarted = { timeoutSeconds: 200, startedAt: null, createdAt: startedSecondsAgo(150) };
    expect(inputWait(unstarted, 900, NOW)).toEqual({ seconds: 50, onTimeout: 'job_timeout' });
  });
});

describe('input_required transitions', () => {
  it('is entered from running only, and left for running, failed or cancelled', () => {
    expect(canTransition('running', 'input_required')).toBe(true);
    expect(canTransition('pending', 'input_required')).toBe(false);
    for (const to of ['running', 'failed', 'cancelled'] as const) {
      expect(canTransition('input_required', to)).toBe(true);
    }
    expect(canTransition('input_required', 'succeeded')).toBe(false);
  });
});

describe('checkAnswer', () => {
  const schema = {
    type: 'object',
    properties: { approved: { type: 'boolean' }, note: { type: 'string' } },
    required: ['approved'],
  };

  it('accepts any JSON answer when the request has no schema', () => {
    for (const answer of [null, 1, 'x', [1], { a: 1 }]) {
      expect(() => checkAnswer({ prompt: 'p' }, answer)).not.toThrow();
    }
  });

  it('accepts a matching answer and refuses a mismatch with field paths under input', () => {
    expect(() => checkAnswer({ prompt: 'p', schema }, { approved: true })).not.toThrow();
    let error: unknown;
    try {
      checkAnswer({ prompt: 'p', schema }, { approved: 'yes' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'invalid_input', errors: [{ path: 'input.approved' }] });
    expect(() => checkAnswer({ prompt: 'p', schema }, 'yes')).toThrow(ValidationError);
  });

  it('refuses an answer over the size cap', () => {
    const big = 'x'.repeat(MAX_ANSWER_BYTES);
    expect(() => checkAnswer({ prompt: 'p' }, big)).toThrow(ValidationError);
  });

  it('treats a stored schema it cannot use as a server fault, not bad input', () => {
    expect(isUsableSchema({ type: 'no-such-type' })).toBe(false);
    expect(isUsableSchema(schema)).toBe(true);
    expect(isUsableSchema(undefined)).toBe(true);
    expect(() => checkAnswer({ prompt: 'p', schema: { type: 'no-such-type' } }, 1)).toThrow(DomainError);
  });
});
