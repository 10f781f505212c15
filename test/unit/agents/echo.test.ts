import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StepContext } from '../../../lambdas/agents/agent.js';
import type { EchoInput } from '../../../lambdas/agents/echo.js';
import { echoAgent, echoInputSchema } from '../../../lambdas/agents/echo.js';
import { agentNames, maxJobTimeoutSeconds, maxStepTimeoutSeconds } from '../../../lambdas/agents/catalog.js';
import { findAgent } from '../../../lambdas/agents/registry.js';

vi.mock('node:timers/promises', async (importOriginal) =>
  (await import('../support/timers-promises.js')).fakeable(
    await importOriginal<typeof import('node:timers/promises')>(),
  ),
);

type State = { asked: boolean };

function context(input: unknown, over: Partial<StepContext<EchoInput, State>> = {}) {
  const reported: Array<{ fraction: number; message?: string }> = [];
  const ctx: StepContext<EchoInput, State> = {
    jobId: 'job_1',
    tenant: 't1',
    input: echoInputSchema.parse(input),
    state: null,
    completedSteps: 0,
    signal: new AbortController().signal,
    answer: undefined,
    progress: (fraction, message) => {
      reported.push({ fraction, message });
    },
    heartbeat: () => {},
    emit: async () => true,
    alongside: () => {},
    takePrepared: () => undefined,
    earlierAttemptEmitted: false,
    ...over,
  };
  return { ctx, reported };
}

/** Runs echo step by step as the workflow would, threading state and step count. */
async function runAll(input: unknown, answer?: string) {
  const outcomes = [];
  let state: State | null = null;
  for (let done = 0; done < 60; done++) {
    const { ctx } = context(input, { state, completedSteps: done, answer });
    const outcome = await echoAgent.step(ctx);
    outcomes.push(outcome);
    if (outcome.type === 'continue' || outcome.type === 'input_required') state = outcome.state;
    else break;
  }
  return outcomes;
}

describe('echo input schema', () => {
  it('applies the defaults: 3 steps of 200 ms', () => {
    expect(echoInputSchema.parse({ message: 'm' })).toEqual({ message: 'm', steps: 3, stepMs: 200 });
  });

  it.each([
    [{ message: 'm', steps: 1, stepMs: 0 }],
    [{ message: 'm', steps: 50, stepMs: 60_000 }],
    [{ message: '', failAtStep: 1 }],
    [{ message: 'm', askInput: 'Name?' }],
  ])('accepts %j', (input) => {
    expect(echoInputSchema.safeParse(input).success).toBe(true);
  });

  it.each([
    ['no message', {}],
    ['0 steps', { message: 'm', steps: 0 }],
    ['51 steps', { message: 'm', steps: 51 }],
    ['fractional steps', { message: 'm', steps: 1.5 }],
    ['negative stepMs', { message: 'm', stepMs: -1 }],
    ['stepMs over a minute', { message: 'm', stepMs: 60_001 }],
    ['failAtStep 0', { message: 'm', failAtStep: 0 }],
    ['empty askInput', { message: 'm', askInput: '' }],
    ['an unknown field', { message: 'm', colour: 'red' }],
    ['not an object', 'm'],
  ])('rejects %s', (_name, input) => {
    expect(echoInputSchema.safeParse(input).success).toBe(false);
  });
});

describe('echo agent', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('declares a 10 s step timeout and 900 s default / 3600 s maximum job timeout', () => {
    expect(echoAgent).toMatchObject({
      name: 'echo',
      stepTimeoutSeconds: 10,
      defaultTimeoutSeconds: 900,
      maxTimeoutSeconds: 3_600,
    });
  });

  it('runs the given number of steps, reporting progress, then echoes the message', async () => {
    const outcomes = await runAll({ message: 'hello', steps: 3, stepMs: 0 });
    expect(outcomes).toEqual([
      { type: 'continue', state: { asked: false } },
      { type: 'continue', state: { asked: false } },
      { type: 'done', result: { message: 'hello', steps: 3, input: null } },
    ]);
  });

  it('reports step/steps as progress with a message', async () => {
    const { ctx, reported } = context(
      { message: 'm', steps: 4, stepMs: 0 },
      { completedSteps: 2, state: { asked: false } },
    );
    await echoAgent.step(ctx);
    expect(reported).toEqual([{ fraction: 0.75, message: 'step 3 of 4' }]);
  });

  it('fails at failAtStep with the default agent_error code, after completing the steps before', async () => {
    const outcomes = await runAll({ message: 'm', steps: 5, stepMs: 0, failAtStep: 3 });
    expect(outcomes.map((o) => o.type)).toEqual(['continue', 'continue', 'fail']);
    const last = outcomes[2];
    expect(last).toEqual({ type: 'fail', message: expect.stringContaining('step 3') });
    expect(last && 'code' in last ? last.code : undefined).toBeUndefined();
  });

  it('does not report progress for the step it fails at', async () => {
    const { ctx, reported } = context({ message: 'm', stepMs: 0, failAtStep: 1 });
    await echoAgent.step(ctx);
    expect(reported).toEqual([]);
  });

  it('asks for input once after step 1 and puts the answer in the result', async () => {
    const first = await echoAgent.step(context({ message: 'm', steps: 2, stepMs: 0, askInput: 'Name?' }).ctx);
    expect(first).toEqual({ type: 'input_required', prompt: 'Name?', state: { asked: true } });

    const resumed = await echoAgent.step(
      context(
        { message: 'm', steps: 2, stepMs: 0, askInput: 'Name?' },
        { completedSteps: 1, state: { asked: true }, answer: 'Ada' },
      ).ctx,
    );
    expect(resumed).toEqual({ type: 'done', result: { message: 'm', steps: 2, input: 'Ada' } });
  });

  it('takes stepMs per step', async () => {
    let settled = false;
    const run = echoAgent.step(context({ message: 'm', steps: 2, stepMs: 5_000 }).ctx).then((o) => {
      settled = true;
      return o;
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await run).type).toBe('continue');
  });

  it('stops promptly when its signal is aborted', async () => {
    const controller = new AbortController();
    const run = echoAgent.step(context({ message: 'm', stepMs: 60_000 }, { signal: controller.signal }).ctx);
    controller.abort(new Error('deadline'));
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('agent registry', () => {
  it('knows echo and nothing else by that name', () => {
    expect(agentNames()).toContain('echo');
    expect(findAgent('echo')).toBe(echoAgent);
    expect(findAgent('Echo')).toBeUndefined();
    expect(findAgent('nope')).toBeUndefined();
  });

  it('derives the workflow bounds from the registered agents', () => {
    expect(maxStepTimeoutSeconds()).toBeGreaterThanOrEqual(echoAgent.stepTimeoutSeconds);
    expect(maxJobTimeoutSeconds()).toBeGreaterThanOrEqual(echoAgent.maxTimeoutSeconds);
    const all = agentNames().map((n) => findAgent(n));
    expect(maxStepTimeoutSeconds()).toBe(Math.max(...all.map((a) => a?.stepTimeoutSeconds ?? 0)));
    expect(maxJobTimeoutSeconds()).toBe(Math.max(...all.map((a) => a?.maxTimeoutSeconds ?? 0)));
  });
});
