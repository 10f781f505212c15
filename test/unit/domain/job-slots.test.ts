import { describe, expect, it } from 'vitest';
import {
  freeSlots,
  LEASE_MARGIN_SECONDS,
  leaseFor,
  leaseVerdict,
  pendingRepair,
  queueRetryAfterSeconds,
} from '../../../lambdas/domain/job-slots.js';

const T0 = 1_750_000_000_000;

describe('job slots', () => {
  it('leases a slot past the job deadline by the margin', () => {
    expect(leaseFor(T0, 60)).toEqual({ at: T0, until: T0 + (60 + LEASE_MARGIN_SECONDS) * 1000 });
  });

  it.each([
    ['running holder within its lease', { status: 'running' as const }, T0 + 1000, 'keep'],
    ['pending holder (admitted, not yet started)', { status: 'pending' as const }, T0 + 1000, 'keep'],
    ['holder waiting for input', { status: 'input_required' as const }, T0 + 1000, 'keep'],
    ['finished holder', { status: 'succeeded' as const }, T0 + 1000, 'release'],
    ['failed holder', { status: 'failed' as const }, T0 + 1000, 'release'],
    ['cancelled holder', { status: 'cancelled' as const }, T0 + 1000, 'release'],
    ['holder gone (expired or deleted)', undefined, T0 + 1000, 'release'],
    ['running holder past its lease', { status: 'running' as const }, T0 + 2_000_000, 'release'],
  ])('judges a %s: %s', (_name, holder, now, verdict) => {
    expect(leaseVerdict(leaseFor(T0, 60), holder, now)).toBe(verdict);
  });

  it('repairs a pending job by where it stands', () => {
    expect(pendingRepair({ holdsSlot: true, queued: false })).toBe('start');
    expect(pendingRepair({ holdsSlot: false, queued: true })).toBe('wait');
    expect(pendingRepair({ holdsSlot: false, queued: false })).toBe('enqueue');
  });

  it('counts free slots, never below zero when a lowered limit leaves extra holders', () => {
    expect(freeSlots(0, 2)).toBe(2);
    expect(freeSlots(2, 2)).toBe(0);
    expect(freeSlots(5, 2)).toBe(0);
  });

  it('estimates Retry-After from how long the running jobs have run, within 1..60 s', () => {
    expect(queueRetryAfterSeconds([], T0)).toBe(60);
    const ran = (seconds: number) => ({ at: T0 - seconds * 1000, until: T0 + 1e6 });
    // Two holders, median age 20 s: a slot frees about every 10 s.
    expect(queueRetryAfterSeconds([ran(10), ran(20)], T0)).toBe(10);
    expect(queueRetryAfterSeconds([ran(0)], T0)).toBe(1);
    expect(queueRetryAfterSeconds([ran(3600)], T0)).toBe(60);
  });
});
