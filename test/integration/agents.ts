import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { AgentDefinition } from '../../lambdas/agents/agent.js';
import type { JsonValue } from '../../lambdas/domain/job.js';

/**
 * An agent only the integration stack registers: it asks for an approval whose answer must match
 * a JSON Schema, then finishes with that answer (echo's input request has no schema).
 */
export const approvalAgent: AgentDefinition<Record<string, never>, { asked: boolean }> = {
  name: 'approval',
  version: '1',
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

export const HEARTBEAT_AGENT_SECONDS = 2;
const BEAT_EVERY_MS = 200;

/**
 * A long-step agent only the integration stack registers: each of `steps` steps takes `stepMs`
 * and signals liveness every 200 ms, or only for its first `silentAfterMs` and then not at all,
 * as a step hung on a dead connection would.
 */
export const heartbeatAgent: AgentDefinition<
  { steps: number; stepMs: number; silentAfterMs?: number },
  { steps: number }
> = {
  name: 'heartbeat',
  version: '1',
  description: 'integration tests: long steps kept alive by heartbeats, or going silent',
  inputSchema: z.strictObject({
    steps: z.int().min(1).max(5).default(1),
    stepMs: z.int().min(0).max(11_000),
    silentAfterMs: z.int().min(0).optional(),
  }),
  stepTimeoutSeconds: 12,
  heartbeatSeconds: HEARTBEAT_AGENT_SECONDS,
  defaultTimeoutSeconds: 120,
  maxTimeoutSeconds: 300,
  async step(ctx) {
    const started = Date.now();
    for (let elapsed = 0; elapsed < ctx.input.stepMs; elapsed = Date.now() - started) {
      if (ctx.input.silentAfterMs === undefined || elapsed < ctx.input.silentAfterMs) ctx.heartbeat();
      await sleep(Math.min(BEAT_EVERY_MS, ctx.input.stepMs - elapsed), undefined, { signal: ctx.signal });
    }
    const step = ctx.completedSteps + 1;
    ctx.progress(step / ctx.input.steps, `step ${step} of ${ctx.input.steps}`);
    if (step < ctx.input.steps) return { type: 'continue', state: { steps: step } };
    return { type: 'done', result: { steps: step } };
  },
};

/**
 * An agent only the integration stack registers, for values too large for the job item: it takes
 * any `payload`, checkpoints it as its state for `steps` steps, and returns it with `resultBytes`
 * bytes of filler.
 */
export const sizedAgent: AgentDefinition<
  { payload?: unknown; steps: number; resultBytes: number },
  { payload: unknown }
> = {
  name: 'sized',
  version: '1',
  description: 'integration tests: large inputs, states and results',
  inputSchema: z.strictObject({
    payload: z.unknown().optional(),
    steps: z.int().min(1).max(5).default(1),
    resultBytes: z
      .int()
      .min(0)
      .max(8 * 1024 * 1024)
      .default(0),
  }),
  stepTimeoutSeconds: 10,
  defaultTimeoutSeconds: 120,
  maxTimeoutSeconds: 300,
  async step(ctx) {
    const step = ctx.completedSteps + 1;
    const payload = (ctx.state?.payload ?? ctx.input.payload ?? null) as JsonValue;
    if (step < ctx.input.steps) return { type: 'continue', state: { payload } };
    return { type: 'done', result: { payload, filler: 'x'.repeat(ctx.input.resultBytes) } };
  },
};
