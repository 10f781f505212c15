import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../../lambdas/domain/job.js';
import {
  canTransition,
  isTerminal,
  JOB_STATUSES,
  jobLinks,
  jobUsage,
  MOVES,
  newJob,
  TERMINAL_STATUSES,
  toJobView,
} from '../../../lambdas/domain/job.js';

/** The status machine as the contract describes it, written out independently of the code. */
const ALLOWED: Record<JobStatus, JobStatus[]> = {
  pending: ['running', 'failed', 'cancelled'],
  running: ['running', 'input_required', 'succeeded', 'failed', 'cancelled'],
  input_required: ['running', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

const PAIRS = JOB_STATUSES.flatMap((from) => JOB_STATUSES.map((to) => [from, to] as const));

describe('status machine', () => {
  it('knows exactly six statuses, three of them terminal', () => {
    expect([...JOB_STATUSES].sort()).toEqual([
      'cancelled',
      'failed',
      'input_required',
      'pending',
      'running',
      'succeeded',
    ]);
    expect([...TERMINAL_STATUSES].sort()).toEqual(['cancelled', 'failed', 'succeeded']);
    for (const s of JOB_STATUSES) expect(isTerminal(s)).toBe(TERMINAL_STATUSES.includes(s));
  });

  it.each(PAIRS)('%s -> %s follows the table', (from, to) => {
    expect(canTransition(from, to)).toBe(ALLOWED[from].includes(to));
  });

  it.each(TERMINAL_STATUSES.map((s) => [s]))('terminal %s never changes, not even to itself', (from) => {
    for (const to of JOB_STATUSES) expect(canTransition(from, to)).toBe(false);
  });

  it('nothing moves back to pending', () => {
    expect(Object.values(MOVES).map((m) => m.to)).not.toContain('pending');
  });

  it('only live jobs can be cancelled or failed, only a running job can succeed or ask for input, and only a waiting one can be answered', () => {
    expect(MOVES.cancel.from).toEqual(['pending', 'running', 'input_required']);
    expect(MOVES.fail.from).toEqual(['pending', 'running', 'input_required']);
    expect(MOVES.succeed.from).toEqual(['running']);
    expect(MOVES.requestInput.from).toEqual(['running']);
    expect(MOVES.answer.from).toEqual(['input_required']);
  });
});

describe('newJob and toJobView', () => {
  const now = new Date('2025-03-01T12:00:00.000Z');
  const expires = new Date('2025-04-01T12:00:00.000Z');

  it('creates a pending first attempt with empty progress and the id as execution name', () => {
    const job = newJob(
      'job_x',
      'acme',
      { agent: 'echo', input: { message: 'm' }, timeoutSeconds: 60 },
      now,
      expires,
    );
    expect(job).toEqual({
      id: 'job_x',
      tenant: 'acme',
      agent: 'echo',
      agentVersion: null,
      status: 'pending',
      attempt: 1,
      input: { message: 'm' },
      metadata: {},
      webhook: null,
      timeoutSeconds: 60,
      progress: { fraction: 0, step: 0, message: null },
      result: null,
      error: null,
      inputRequest: null,
      usage: null,
      createdAt: '2025-03-01T12:00:00.000Z',
      updatedAt: '2025-03-01T12:00:00.000Z',
      startedAt: null,
      completedAt: null,
      expiresAt: '2025-04-01T12:00:00.000Z',
      executionName: 'job_x',
      eventSeq: 1,
    });
  });

  it('keeps metadata and webhook when given', () => {
    const job = newJob(
      'job_x',
      'acme',
      {
        agent: 'echo',
        input: null,
        metadata: { a: 1 },
        webhook: { url: 'https://h.example/x' },
        timeoutSeconds: 5,
      },
      now,
      expires,
    );
    expect(job.metadata).toEqual({ a: 1 });
    expect(job.webhook).toEqual({ url: 'https://h.example/x' });
  });

  it('the view has exactly the contract fields and hides internals', () => {
    const job = newJob(
      'job_x',
      'acme',
      { agent: 'echo', input: {}, webhook: { url: 'https://h.example' }, timeoutSeconds: 5 },
      now,
      expires,
    );
    const view = toJobView(job);
    expect(Object.keys(view).sort()).toEqual(
      [
        'id',
        'agent',
        'agentVersion',
        'status',
        'attempt',
        'input',
        'metadata',
        'progress',
        'result',
        'error',
        'inputRequest',
        'usage',
        'createdAt',
        'updatedAt',
        'startedAt',
        'completedAt',
        'expiresAt',
        'links',
      ].sort(),
    );
    expect(view.links).toEqual({
      self: '/v1/jobs/job_x',
      cancel: '/v1/jobs/job_x/cancel',
      events: '/v1/jobs/job_x/events',
      stream: '/v1/jobs/job_x/stream',
    });
    expect(jobLinks('job_y').self).toBe('/v1/jobs/job_y');
  });

  it('shows result only when succeeded, error only when failed, inputRequest only while input_required', () => {
    const base = newJob('job_x', 'acme', { agent: 'echo', input: {}, timeoutSeconds: 5 }, now, expires);
    const filled = {
      ...base,
      result: { r: 1 },
      error: { code: 'agent_error' as const, message: 'boom', retryable: false },
      inputRequest: { prompt: 'why?' },
    };
    for (const status of JOB_STATUSES) {
      const view = toJobView({ ...filled, status });
      expect(view.result).toEqual(status === 'succeeded' ? { r: 1 } : null);
      expect(view.error).toEqual(status === 'failed' ? filled.error : null);
      // A request stored before requests had a type is a question.
      expect(view.inputRequest).toEqual(
        status === 'input_required' ? { type: 'question', prompt: 'why?' } : null,
      );
    }
  });
});

describe('jobUsage', () => {
  const usage = (calls: number, costUsd: number | null) => ({
    inputTokens: 10 * calls,
    outputTokens: 3 * calls,
    totalTokens: 13 * calls,
    modelCalls: calls,
    costUsd,
  });

  it('is the attempt’s own usage when no earlier attempt used any', () => {
    expect(jobUsage(undefined, usage(2, 0.5))).toEqual(usage(2, 0.5));
  });

  it('adds the attempt’s usage to the earlier attempts’', () => {
    expect(jobUsage(usage(1, 0.25), usage(2, 0.5))).toEqual(usage(3, 0.75));
  });

  it('has no cost when either part has none', () => {
    expect(jobUsage(usage(1, null), usage(2, 0.5)).costUsd).toBeNull();
    expect(jobUsage(usage(1, 0.25), usage(2, null)).costUsd).toBeNull();
  });
});
