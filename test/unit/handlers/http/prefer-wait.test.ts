import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Job } from '../../../../lambdas/domain/job.js';
import { makeJob } from '../../support/fixtures.js';

vi.mock('node:timers/promises', async (importOriginal) =>
  (await import('../../support/timers-promises.js')).fakeable(await importOriginal()),
);
const { awaitTerminal, preferredWait, waitOutcome } =
  await import('../../../../lambdas/handlers/http/prefer-wait.js');

describe('preferredWait (RFC 7240 Prefer)', () => {
  it.each([
    ['wait=5', 5],
    ['WAIT=5', 5],
    ['respond-async, wait=7', 7],
    ['wait=7; foo=bar', 7],
    ['wait="3"', 3],
    [' handling=lenient ,wait=0', 0],
    ['wait=21', 20],
    ['wait=999999', 20],
  ])('%s -> %s', (header, seconds) => {
    expect(preferredWait(header)).toBe(seconds);
  });

  it.each([undefined, '', 'respond-async', 'wait', 'wait=', 'wait=-1', 'wait=1.5', 'wait=abc', 'waiting=3'])(
    'ignores %s',
    (header) => {
      expect(preferredWait(header)).toBeUndefined();
    },
  );
});

describe('waitOutcome', () => {
  it('answers 200 with Preference-Applied for a terminal job held by a preference', () => {
    expect(waitOutcome(makeJob({ status: 'succeeded' }), 5, 202)).toEqual({
      status: 200,
      headers: { 'Preference-Applied': 'wait=5' },
    });
  });

  it('keeps the usual answer when the job is still live or no wait was asked for', () => {
    expect(waitOutcome(makeJob({ status: 'running' }), 5, 202)).toEqual({ status: 202, headers: {} });
    expect(waitOutcome(makeJob({ status: 'succeeded' }), undefined, 202)).toEqual({
      status: 202,
      headers: {},
    });
  });
});

describe('awaitTerminal', () => {
  const running = makeJob({ status: 'running' });
  const done = makeJob({ status: 'succeeded' });
  const roomy = { getRemainingTimeInMillis: () => 60_000 };

  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns a terminal job at once, without reading again', async () => {
    const reload = vi.fn<() => Promise<Job | undefined>>();
    await expect(awaitTerminal(done, 10, roomy, reload)).resolves.toBe(done);
    expect(reload).not.toHaveBeenCalled();
  });

  it('re-reads with backoff from 100 ms doubling to 1 s until the job is terminal', async () => {
    const reload = vi.fn<() => Promise<Job | undefined>>().mockResolvedValue(running);
    const result = awaitTerminal(running, 10, roomy, reload);
    await vi.advanceTimersByTimeAsync(100);
    expect(reload).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(200 + 400 + 800);
    expect(reload).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(1000);
    expect(reload).toHaveBeenCalledTimes(5);
    reload.mockResolvedValue(done);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(result).resolves.toBe(done);
    expect(reload).toHaveBeenCalledTimes(6);
  });

  it('gives up after the preferred wait with the latest job', async () => {
    const reload = vi.fn<() => Promise<Job | undefined>>().mockResolvedValue(running);
    const result = awaitTerminal(running, 2, roomy, reload);
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(result).resolves.toBe(running);
    const calls = reload.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reload).toHaveBeenCalledTimes(calls);
  });

  it('never holds past the function’s remaining time minus the margin to answer', async () => {
    const reload = vi.fn<() => Promise<Job | undefined>>().mockResolvedValue(running);
    const result = awaitTerminal(running, 20, { getRemainingTimeInMillis: () => 4_000 }, reload);
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(result).resolves.toBe(running);
  });
});
