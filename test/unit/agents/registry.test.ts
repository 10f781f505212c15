import { describe, expect, it } from 'vitest';
import { assertValidAgent } from '../../../lambdas/agents/registry.js';

describe('assertValidAgent', () => {
  const agent = { name: 'long', stepTimeoutSeconds: 600 };

  it('accepts agents without heartbeats and whole heartbeats below the step timeout', () => {
    expect(() => assertValidAgent(agent)).not.toThrow();
    expect(() => assertValidAgent({ ...agent, heartbeatSeconds: 1 })).not.toThrow();
    expect(() => assertValidAgent({ ...agent, heartbeatSeconds: 599 })).not.toThrow();
  });

  it.each([0, -5, 1.5, 600, 900, Number.NaN])(
    'refuses heartbeatSeconds %s, which Step Functions would reject at the first step',
    (heartbeatSeconds) => {
      expect(() => assertValidAgent({ ...agent, heartbeatSeconds })).toThrow(/agent long: heartbeatSeconds/);
    },
  );
});
