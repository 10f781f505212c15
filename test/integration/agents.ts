import { z } from 'zod';
import type { AgentDefinition } from '../../lambdas/agents/agent.js';

/**
 * An agent only the integration stack registers: it asks for an approval whose answer must match
 * a JSON Schema, then finishes with that answer (echo's input request has no schema).
 */
export const approvalAgent: AgentDefinition<Record<string, never>, { asked: boolean }> = {
  name: 'approval',
  description: 'integration tests: asks for {approved: boolean} once, then returns the answer',
  inputSchema: z.strictObject({}),
  stepTimeoutSeconds: 5,
  defaultTimeoutSeconds: 120,
  maxTimeoutSeconds: 300,
  inputTimeout: { defaultSeconds: 60, maxSeconds: 120 },
  async step(ctx) {
    if (!ctx.state?.asked) {
      return {
        type: 'input_required',
        prompt: 'Approve?',
        schema: {
          type: 'object',
          properties: { approved: { type: 'boolean' } },
          required: ['approved'],
        },
        state: { asked: true },
      };
    }
    return { type: 'done', result: { answer: ctx.answer ?? null } };
  },
};
