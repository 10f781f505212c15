import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../../lambdas/domain/job.js';
import { JOB_STATUSES, TERMINAL_STATUSES } from '../../../lambdas/domain/job.js';
import { MAX_RETRY_AFTER, MIN_RETRY_AFTER, retryAfterSeconds } from '../../../lambdas/domain/retry-after.js';

const created = new Date('2025-03-01T12:00:00.000Z');
const at = (seconds: number) => new Date(created.getTime() + seconds * 1000);

function job(status: JobStatus, opts: { startedAfter?: number | null; fraction?: number } = {}) {
  const startedAfter = opts.startedAfter === undefined ? 0 : opts.startedAfter;
  return {
    status,
    createdAt: created.toISOString(),
    startedAt: startedAfter === null ? null : at(startedAfter).toISOString(),
    progress: { fraction: opts.fraction ?? 0, step: 0, message: null },
  };
}

const LIVE = JOB_STATUSES.filter((s) => !TERMINAL_STATUSES.includes(s));

describe('retryAfterSeconds', () => {
  it('bounds are 1 and 30', () => {
    expect(MIN_RETRY_AFTER).toBe(1);
    expect(MAX_RETRY_AFTER).toBe(30);
  });

  it.each(TERMINAL_STATUSES.map((s) => [s]))('is undefined for a %s job', (status) => {
    expect(retryAfterSeconds(job(status), at(0))).toBeUndefined();
    expect(retryAfterSeconds(job(status, { fraction: 0.5 }), at(10_000))).toBeUndefined();
  });

  it('property: an integer in 1..30 for every non-terminal job at any time', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LIVE),
        fc.option(fc.integer({ min: -86_400, max: 86_400 }), { nil: null }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: -3_600, max: 10 * 86_400 }),
        (status, startedAfter, fraction, nowAfter) => {
          const value = retryAfterSeconds(job(status, { startedAfter, fraction }), at(nowAfter));
          expect(Number.isInteger(value)).toBe(true);
          expect(value).toBeGreaterThanOrEqual(1);
          expect(value).toBeLessThanOrEqual(30);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('a pending job is polled at the minimum', () => {
    expect(retryAfterSeconds(job('pending', { startedAfter: null }), at(600))).toBe(1);
  });

  it('a job waiting for a person is polled every 10 seconds', () => {
    expect(retryAfterSeconds(job('input_required'), at(3))).toBe(10);
  });

  it('is short right after start', () => {
    expect(retryAfterSeconds(job('running'), at(0))).toBe(1);
    expect(retryAfterSeconds(job('running'), at(5))).toBe(1);
  });

  it('grows with the time a job has run, up to 30', () => {
    expect(retryAfterSeconds(job('running'), at(100))).toBe(10);
    expect(retryAfterSeconds(job('running'), at(300))).toBe(30);
    expect(retryAfterSeconds(job('running'), at(86_400))).toBe(30);
  });

  it('counts from startedAt, not from createdAt, once started', () => {
    expect(retryAfterSeconds(job('running', { startedAfter: 200 }), at(300))).toBe(10);
    expect(retryAfterSeconds(job('running', { startedAfter: null }), at(300))).toBe(30);
  });

  it('is shorter near completion than mid-way through a long job', () => {
    const midway = retryAfterSeconds(job('running', { fraction: 0.2 }), at(600));
    const nearEnd = retryAfterSeconds(job('running', { fraction: 0.97 }), at(600));
    expect(midway).toBe(30);
    expect(nearEnd).toBeDefined();
    expect(nearEnd).toBeLessThan(midway as number);
    // 600 s for 97 %: about 18.6 s left, polled at half of that.
    expect(nearEnd).toBe(9);
  });

  it('property: with no progress reported it never decreases as time passes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), (a, b) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        const first = retryAfterSeconds(job('running'), at(early)) as number;
        const second = retryAfterSeconds(job('running'), at(late)) as number;
        expect(second).toBeGreaterThanOrEqual(first);
      }),
    );
  });
});
