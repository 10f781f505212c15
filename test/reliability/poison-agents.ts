import { z } from 'zod';
import type { AgentDefinition } from '../../lambdas/agents/agent.js';

/**
 * Agents that break their contract, registered only in the reliability suite's local stack (through
 * LocalStackOptions.extraAgents). Short step timeouts keep the hanging case quick.
 */
const base = {
  description: 'reliability suite: a misbehaving agent',
  inputSchema: z.strictObject({}),
  stepTimeoutSeconds: 1,
  defaultTimeoutSeconds: 30,
  maxTimeoutSeconds: 60,
};

export const POISON_AGENTS: AgentDefinition<Record<string, never>, never>[] = [
  {
    ...base,
    name: 'poison-throws',
    version: '1',
    step: () => Promise.reject(new Error('this agent always throws')),
  },
  {
    ...base,
    name: 'poison-hangs',
    version: '1',
    // Never settles and ignores ctx.signal, like an agent stuck in a call without a timeout.
    step: () => new Promise(() => {}),
  },
  {
    ...base,
    name: 'poison-invalid-outcome',
    version: '1',
    step: async () => ({ type: 'finished', answer: 42 }) as never,
  },
  {
    ...base,
    name: 'poison-unserializable-result',
    version: '1',
    step: async () => ({ type: 'done', result: { total: 10n } as never }),
  },
];
