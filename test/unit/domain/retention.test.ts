import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETENTION,
  isExpired,
  liveExpiry,
  logExpiry,
  terminalExpiry,
  toTtl,
} from '../../../lambdas/domain/retention.js';

const DAY = 86_400_000;
const done = new Date('2025-03-01T12:00:00.000Z');

describe('retention', () => {
  it('keeps succeeded and cancelled jobs 7 days, failed ones 30 days after completion', () => {
    expect(DEFAULT_RETENTION).toMatchObject({ succeededDays: 7, failedDays: 30 });
    expect(terminalExpiry('succeeded', done).getTime() - done.getTime()).toBe(7 * DAY);
    expect(terminalExpiry('cancelled', done).getTime() - done.getTime()).toBe(7 * DAY);
    expect(terminalExpiry('failed', done).getTime() - done.getTime()).toBe(30 * DAY);
    expect(terminalExpiry('succeeded', done).toISOString()).toBe('2025-03-08T12:00:00.000Z');
    expect(terminalExpiry('failed', done).toISOString()).toBe('2025-03-31T12:00:00.000Z');
  });

  it('honours a configured policy', () => {
    const policy = { succeededDays: 1, failedDays: 2, liveBackstopDays: 3 };
    expect(terminalExpiry('succeeded', done, policy).getTime() - done.getTime()).toBe(DAY);
    expect(terminalExpiry('failed', done, policy).getTime() - done.getTime()).toBe(2 * DAY);
    expect(liveExpiry(done, 60, policy).getTime() - done.getTime()).toBe(3 * DAY + 60_000);
  });

  it('puts a live job backstop beyond its own timeout', () => {
    const expiry = liveExpiry(done, 3_600);
    expect(expiry.getTime()).toBe(done.getTime() + 3_600_000 + DEFAULT_RETENTION.liveBackstopDays * DAY);
    expect(expiry.getTime()).toBeGreaterThan(done.getTime() + 3_600_000);
  });

  it('TTL is whole epoch seconds', () => {
    expect(toTtl('2025-03-01T12:00:00.999Z')).toBe(Date.UTC(2025, 2, 1, 12) / 1000);
    expect(toTtl(new Date(1_700_000_000_500))).toBe(1_700_000_000);
  });

  it('a job is expired from its expiresAt on', () => {
    const expiresAt = '2025-03-08T12:00:00.000Z';
    expect(isExpired(expiresAt, new Date('2025-03-08T11:59:59.999Z'))).toBe(false);
    expect(isExpired(expiresAt, new Date(expiresAt))).toBe(true);
    expect(isExpired(expiresAt, new Date('2025-03-09T00:00:00.000Z'))).toBe(true);
  });
});

describe('logExpiry', () => {
  const base = {
    status: 'running' as const,
    startedAt: '2025-06-01T10:00:00.000Z',
    updatedAt: '2025-06-01T10:05:00.000Z',
    timeoutSeconds: 600,
    expiresAt: '2025-07-01T10:10:00.000Z',
  };

  it('a live job: its deadline (from its start) plus an hour, then the succeeded retention', () => {
    expect(logExpiry(base).toISOString()).toBe('2025-06-08T11:10:00.000Z');
  });

  it('a job waiting to start counts from the write', () => {
    expect(logExpiry({ ...base, status: 'pending', startedAt: null }).toISOString()).toBe(
      '2025-06-08T11:15:00.000Z',
    );
  });

  it("never beyond the job's own expiry, and exactly it once the job is terminal", () => {
    expect(logExpiry({ ...base, expiresAt: '2025-06-02T00:00:00.000Z' }).toISOString()).toBe(
      '2025-06-02T00:00:00.000Z',
    );
    expect(logExpiry({ ...base, status: 'failed' }).toISOString()).toBe(base.expiresAt);
  });
});
