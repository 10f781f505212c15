const UNIT_MS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * The interval of an EventBridge `rate(N unit)` schedule. Anything else (a `cron(...)`, a typo) is
 * refused when the local stack starts: a rule it silently never ran would leave its target, the
 * sweep say, untested locally.
 */
export function scheduleIntervalMs(expression: string): number {
  const rate = /^rate\((\d+) (\w+)\)$/.exec(expression);
  const unitMs = rate && UNIT_MS[rate[2]!];
  const count = Number(rate?.[1]);
  if (!unitMs || !(count >= 1)) {
    throw new Error(`the local stack runs only rate(N minutes|hours|days) schedules, not "${expression}"`);
  }
  return count * unitMs;
}
