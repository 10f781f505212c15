import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/domain/errors.js';
import { costNanoUsd } from '../../../lambdas/domain/model-prices.js';
import {
  isUtcDay,
  MAX_USAGE_DAYS,
  stepTally,
  usageDay,
  usageRange,
  usageTtl,
  utcDay,
} from '../../../lambdas/domain/usage.js';

const NOW = new Date('2026-12-05T23:59:59.999Z');
const usage = { inputTokens: 11, outputTokens: 7 };

describe('usage: what a step counts', () => {
  it('counts the job at its first recorded step and each answered call, priced in billionths', () => {
    expect(stepTally(true, { model: 'gpt-4o-mini', usage })).toEqual({
      jobs: 1,
      modelCalls: 1,
      inputTokens: 11,
      outputTokens: 7,
      // 11 x 0.15 + 7 x 0.6 dollars per million tokens
      costNanoUsd: 5_850,
      unpricedCalls: 0,
    });
    expect(stepTally(false, { model: 'scripted-model', usage })).toMatchObject({
      jobs: 0,
      modelCalls: 1,
      costNanoUsd: 0,
      unpricedCalls: 1,
    });
    expect(stepTally(true, undefined)).toMatchObject({ jobs: 1, modelCalls: 0, inputTokens: 0 });
    expect(stepTally(false, undefined)).toBeUndefined();
  });

  it('adds prices without float drift: a million small calls sum exactly', () => {
    const one = costNanoUsd('gpt-4.1-nano', { inputTokens: 3, outputTokens: 1 })!;
    expect(one).toBe(700);
    expect(
      usageDay('2026-12-05', { ...stepTally(false, undefined)!, costNanoUsd: one * 1e6, unpricedCalls: 0 }),
    ).toMatchObject({ costUsd: 0.7 });
  });

  it('shows a day with an unpriced call at an unknown cost', () => {
    const counts = { jobs: 1, modelCalls: 2, inputTokens: 22, outputTokens: 14, costNanoUsd: 5_850 };
    expect(usageDay('2026-12-05', { ...counts, unpricedCalls: 0 }).costUsd).toBe(0.00000585);
    expect(usageDay('2026-12-05', { ...counts, unpricedCalls: 1 }).costUsd).toBeNull();
  });
});

describe('usage: days and ranges', () => {
  it('names UTC days, and only real ones', () => {
    expect(utcDay(NOW)).toBe('2026-12-05');
    expect(utcDay(new Date('2026-12-06T00:00:00.000Z'))).toBe('2026-12-06');
    expect(isUtcDay('2028-02-29')).toBe(true);
    for (const bad of ['2026-02-29', '2026-13-01', '2026-1-01', '20261205', '2026-12-05T00:00:00Z', ''])
      expect(isUtcDay(bad)).toBe(false);
  });

  it('keeps a day for 400 days after it ends', () => {
    expect(usageTtl('2026-12-05')).toBe(Date.parse('2028-01-10T00:00:00Z') / 1000);
  });

  it('defaults to the 30 days up to today', () => {
    expect(usageRange(undefined, undefined, NOW)).toEqual({ from: '2026-11-06', to: '2026-12-05' });
    expect(usageRange(undefined, '2026-03-01', NOW)).toEqual({ from: '2026-01-31', to: '2026-03-01' });
  });

  it('takes one day, and up to 92 days', () => {
    expect(usageRange('2026-12-05', '2026-12-05', NOW)).toEqual({ from: '2026-12-05', to: '2026-12-05' });
    expect(usageRange('2026-01-01', '2026-04-02', NOW)).toEqual({ from: '2026-01-01', to: '2026-04-02' });
  });

  it.each([
    ['2026-01-01', '2026-04-03', 'query.to', `at most ${MAX_USAGE_DAYS} days`],
    ['2026-12-05', '2026-12-04', 'query.to', 'not be before from'],
    ['2026-12-5', '2026-12-05', 'query.from', 'YYYY-MM-DD'],
    ['2026-12-01', 'today', 'query.to', 'YYYY-MM-DD'],
  ])('refuses from=%s to=%s with a validation problem on %s', (from, to, path, message) => {
    let thrown: unknown;
    try {
      usageRange(from, to, NOW);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as ValidationError).code).toBe('validation_failed');
    expect(JSON.stringify((thrown as ValidationError).errors)).toContain(path);
    expect(JSON.stringify((thrown as ValidationError).errors)).toContain(message);
  });
});
