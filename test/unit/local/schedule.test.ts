import { describe, expect, it } from 'vitest';
import { scheduleIntervalMs } from '../../../lambdas/local/schedule.js';

describe('scheduleIntervalMs', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(2 hours)', 7_200_000],
    ['rate(1 day)', 86_400_000],
  ])('runs %s every %i ms', (expression, ms) => {
    expect(scheduleIntervalMs(expression)).toBe(ms);
  });

  it.each(['cron(0 12 * * ? *)', 'rate(5 seconds)', 'rate(0 minutes)', 'rate(five minutes)', ''])(
    'refuses %j at start instead of never running it',
    (expression) => {
      expect(() => scheduleIntervalMs(expression)).toThrow(/only rate\(N minutes\|hours\|days\) schedules/);
    },
  );
});
