import { setTimeout as sleep } from 'node:timers/promises';
import * as z from '../domain/zod-mini.js';
import type { AgentDefinition } from './agent.js';

export const echoInputSchema = z.strictObject({
  message: z.string().check(z.maxLength(10_000)),
  steps: z._default(z.int().check(z.minimum(1), z.maximum(50)), 3),
  stepMs: z._default(z.int().check(z.minimum(0), z.maximum(60_000)), 200),
  failAtStep: z.optional(z.int().check(z.minimum(1))),
  askInput: z.optional(z.string().check(z.minLength(1), z.maxLength(2_000))),
});
export type EchoInput = z.output<typeof echoInputSchema>;

interface EchoState {
  /** Whether the input request was already made, so it is asked once. */
  asked: boolean;
}

/**
 * The built-in deterministic agent: it calls no model, so it is how a deployment is smoke-tested.
 * Each step sleeps `stepMs` (abortably) and reports progress; see the README for the rest.
 */
export const echoAgent: AgentDefinition<EchoInput, EchoState> = {
  name: 'echo',
  version: '1.0.0',
  description: 'Deterministic agent for smoke tests and demos: runs N timed steps and echoes the message.',
  inputSchema: echoInputSchema,
  stepTimeoutSeconds: 10,
  defaultTimeoutSeconds: 900,
  maxTimeoutSeconds: 3_600,
  inputTimeout: { defaultSeconds: 900, maxSeconds: 3_600 },
  async step(ctx) {
    const { input } = ctx;
    const step = ctx.completedSteps + 1;
    if (input.stepMs > 0) await sleep(input.stepMs, undefined, { signal: ctx.signal });
    if (input.failAtStep === step) return { type: 'fail', message: `echo failed at step ${step} as asked` };
    ctx.progress(step / input.steps, `step ${step} of ${input.steps}`);
    const state = ctx.state ?? { asked: false };
    if (input.askInput !== undefined && step === 1 && !state.asked) {
      return { type: 'input_required', prompt: input.askInput, state: { asked: true } };
    }
    if (step < input.steps) return { type: 'continue', state };
    return { type: 'done', result: { message: input.message, steps: step, input: ctx.answer ?? null } };
  },
};
