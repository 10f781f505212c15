import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatThrottle, heartbeatIntervalMs } from '../../../lambdas/domain/heartbeat.js';

describe('heartbeatIntervalMs', () => {
  it('is a quarter of the heartbeat timeout', () => {
    expect(heartbeatIntervalMs(60)).toBe(15_000);
    expect(heartbeatIntervalMs(2)).toBe(500);
  });
});

describe('HeartbeatThrottle', () => {
  let sentAt: number[];
  const elapsed = () => Date.now() - 1_000_000;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    sentAt = [];
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const throttle = (sentBefore?: number) =>
    new HeartbeatThrottle(1_000, () => sentAt.push(elapsed()), sentBefore);

  it('sends the first beat at once and folds a burst into one more at the end of the interval', () => {
    const t = throttle();
    for (let i = 0; i < 50; i++) t.beat();
    expect(sentAt).toEqual([0]);
    vi.advanceTimersByTime(999);
    expect(sentAt).toEqual([0]);
    vi.advanceTimersByTime(1);
    expect(sentAt).toEqual([0, 1_000]);
  });

  it('never drops the last sign of life: a beat just after one was sent goes out when the interval ends', () => {
    const t = throttle();
    t.beat();
    vi.advanceTimersByTime(10);
    t.beat();
    vi.advanceTimersByTime(5_000);
    expect(sentAt).toEqual([0, 1_000]);
  });

  it('sends at most one beat per interval however often the agent signals', () => {
    const t = throttle();
    for (let ms = 0; ms < 10_000; ms += 10) {
      t.beat();
      vi.advanceTimersByTime(10);
    }
    // 1,000 signals over 10 s: one beat per second, the last one at the end of the final interval.
    expect(sentAt).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000]);
  });

  it('sends nothing without a signal: silence is what the heartbeat timeout detects', () => {
    throttle();
    vi.advanceTimersByTime(60_000);
    expect(sentAt).toEqual([]);
  });

  it('counts a beat the caller sent itself', () => {
    const t = throttle(Date.now());
    t.beat();
    expect(sentAt).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(sentAt).toEqual([1_000]);
  });

  it('sends nothing after stop, not even a pending trailing beat', () => {
    const t = throttle();
    t.beat();
    t.beat();
    t.stop();
    t.beat();
    vi.advanceTimersByTime(5_000);
    expect(sentAt).toEqual([0]);
  });
});
