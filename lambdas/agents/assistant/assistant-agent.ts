import type { ModelProvider } from '../../adapters/models/model-provider.js';
import { callModel } from '../../adapters/models/model-provider.js';
import { DomainError } from '../../domain/errors.js';
import type { JsonValue } from '../../domain/job.js';
import type { StepEvent } from '../../domain/job-events.js';
import type { ModelAnswer, ModelCallRequest, TokenUsage } from '../../domain/model.js';
import { ModelRefusedError, ModelUnavailableError } from '../../domain/model-errors.js';
import {
  budgetWaitSeconds,
  estimatedTokens,
  reservationTokens,
  type ReserveResult,
  type TokenBudget,
  type TokenReservation,
} from '../../domain/token-budget.js';
import type { Deployment } from '../../domain/webhook-url.js';
import type { AgentDefinition, PreparedWork, StepContext, StepOutcome } from '../agent.js';
import { TransientStepError } from '../agent.js';
import { DeltaBatcher } from './delta-batcher.js';
import { assistantDescriptor } from './descriptor.js';
import type { AssistantInput } from './input.js';
import type { AssistantState, Decision } from './loop.js';
import {
  applyToolOutputs,
  decideNext,
  initialState,
  modelCallRequest,
  nextAction,
  recordServerResult,
  usageTotals,
} from './loop.js';
import { retryWaitSeconds } from './retry.js';
import { runServerTool, serverToolDefinition, serverToolMaxMs } from './server-tools.js';

/** What the agent checkpoints: the loop's state plus what the step runner around it needs. */
export type AssistantStepState = AssistantState & {
  /** Failed attempts at the model call about to be made; reset by every answer. */
  failedAttempts?: number;
  /** The job asked the client for tool outputs; the answer is applied by the next step. */
  awaitingAnswer?: boolean;
  /** A failed attempt at the model call about to be made had logged events; reset by every answer. */
  brokenAttemptLogged?: boolean;
};

/** One answered model call, for operators' metrics. */
export interface ModelCallRecord {
  tenant: string;
  model: string;
  usage: TokenUsage;
}

export interface AssistantDeps {
  provider(): Promise<ModelProvider | undefined>;
  unavailableReason(): string | undefined;
  deployment(): Deployment;
  /** Model call attempts per call (the first included) before the job fails with `model_unavailable`. */
  maxAttempts(): number;
  recordModelCall(record: ModelCallRecord): void;
  /** The tenants' token budgets (tokensPerMinute); without it model calls are not budgeted. */
  tokenBudget?: () => TokenBudget;
  random?: () => number;
}

type Ctx = StepContext<AssistantInput, AssistantStepState>;
type Outcome = StepOutcome<AssistantStepState>;

/**
 * The built-in `assistant`: a tool-using LLM loop where each step does one durable thing. A step
 * makes one model call (its answer, usage and tool calls are checkpointed before any tool runs),
 * or runs one server tool call (its result checkpointed under the call's id), or asks the client
 * for tool outputs. The decisions are loop.ts's; this file performs them.
 */
export function createAssistantAgent(
  deps: AssistantDeps,
): AgentDefinition<AssistantInput, AssistantStepState> {
  return {
    ...assistantDescriptor(() => deps.unavailableReason()),
    prepareFor: ({ input, state }) => (deps.tokenBudget ? nextCallTokens(input, state) : undefined),
    prepare: (tenant, value) => prepareTokens(deps, tenant, value),
    async step(ctx) {
      const provider = await deps.provider();
      if (!provider) return { type: 'fail', message: 'no model provider is configured' };
      let state: AssistantStepState = ctx.state ?? initialState(ctx.input);
      if (state.awaitingAnswer) {
        const answered = answeredState(state, ctx.answer);
        if (typeof answered === 'string') return { type: 'fail', message: answered };
        state = answered;
      }
      const model = ctx.input.model ?? provider.defaultModel;
      const decision = nextAction(state, ctx.input, { now: Date.now() });
      return perform(decision, { ctx, deps, provider, model, state });
    },
  };
}

interface StepScope {
  ctx: Ctx;
  deps: AssistantDeps;
  provider: ModelProvider;
  model: string;
  state: AssistantStepState;
}

function answeredState(
  state: AssistantStepState,
  answer: JsonValue | undefined,
): AssistantStepState | string {
  try {
    return { ...applyToolOutputs(state, answer), awaitingAnswer: false };
  } catch (error) {
    // The answer was checked against the same calls when it was submitted; this is a broken invariant.
    if (error instanceof DomainError)
      return `the stored tool outputs do not match the pending calls: ${error.message}`;
    throw error;
  }
}

async function perform(decision: Decision, scope: StepScope): Promise<Outcome> {
  const usage = usageTotals(decision.state, scope.model);
  switch (decision.type) {
    case 'call_model':
      return callModelStep(decision.state, decision.step, scope);
    case 'run_server_tools': {
      const call = decision.calls[0]!;
      scope.ctx.progress(progressOf(decision.state, scope.ctx.input), `running ${call.name}`);
      const result = await runServerTool(call.name, call.arguments, {
        signal: scope.ctx.signal,
        deployment: scope.deps.deployment(),
      });
      const state = recordServerResult(decision.state, call.id, result);
      const next = nextAction(state, scope.ctx.input, { now: Date.now() });
      return { type: 'continue', state, usage, ...toolStepBound(next) };
    }
    case 'await_client': {
      const { prompt, toolCalls } = decision.inputRequest;
      return {
        type: 'input_required',
        prompt,
        toolCalls,
        state: { ...decision.state, awaitingAnswer: true },
        usage,
      };
    }
    case 'finish':
      return { type: 'done', result: decision.result as unknown as JsonValue, usage };
    case 'stop':
      return { type: 'fail', message: `the loop stopped (${decision.reason})` };
  }
}

const progressOf = (state: AssistantState, input: AssistantInput) => state.modelCalls / input.maxSteps;

async function callModelStep(state: AssistantStepState, step: number, scope: StepScope): Promise<Outcome> {
  const { ctx, deps, provider, model } = scope;
  const serverTools = (ctx.input.serverTools ?? []).map(serverToolDefinition);
  const request = modelCallRequest(state, ctx.input, serverTools);
  const hold = await reserveTokens(request, state, step, scope);
  if ('wait' in hold) return hold.wait;
  // A client joining this call's deltas drops what an earlier, broken attempt of it logged.
  if (ctx.earlierAttemptEmitted || state.brokenAttemptLogged) {
    await ctx.emit([{ type: 'job.output.reset', data: { step } }]);
  }
  const batcher = new DeltaBatcher(step, (events) => ctx.emit(events));
  let answer: ModelAnswer;
  try {
    answer = await callModel(provider, { ...request, signal: ctx.signal }, (event) => {
      ctx.heartbeat();
      if (event.type === 'text') batcher.push(event.text);
    });
  } catch (error) {
    ctx.alongside(hold.release());
    await batcher.discard();
    const logged = state.brokenAttemptLogged || batcher.wrote;
    return failedCall(error, logged ? { ...state, brokenAttemptLogged: true } : state, scope);
  }
  // Neither the budget's bookkeeping nor the answer's last events hold up the step's write: the
  // settle runs beside it, and the events ride on it (they land exactly when the answer does).
  ctx.alongside(hold.settle(answer.usage));
  const events = await batcher.finish(toolCallEvents(step, answer));
  deps.recordModelCall({ tenant: ctx.tenant, model, usage: answer.usage });
  const next = decideNext(state, { step, answer }, ctx.input, { now: Date.now() });
  const answered = { ...next.state, failedAttempts: 0, brokenAttemptLogged: false };
  ctx.progress(progressOf(answered, ctx.input), `model call ${step} answered`);
  const recorded = {
    usage: usageTotals(answered, model),
    modelCall: { model, usage: answer.usage },
    ...(events.length > 0 ? { events } : {}),
  };
  switch (next.type) {
    case 'finish':
      return { type: 'done', result: next.result as unknown as JsonValue, ...recorded };
    case 'await_client': {
      const { prompt, toolCalls } = next.inputRequest;
      return {
        type: 'input_required',
        prompt,
        toolCalls,
        state: { ...answered, awaitingAnswer: true },
        ...recorded,
      };
    }
    default:
      // The answer is checkpointed before any of its tool calls runs.
      return { type: 'continue', state: answered, ...recorded, ...toolStepBound(next) };
  }
}

/**
 * A next step that runs a server tool call is bounded by the tool's own timeouts, so the runner may
 * run it in this invocation, after this step's checkpoint. A model call gets an invocation of its own.
 */
function toolStepBound(next: Decision): { nextStepWithinMs?: number } {
  const ms = next.type === 'run_server_tools' ? serverToolMaxMs(next.calls[0]!.name) : undefined;
  return ms === undefined ? {} : { nextStepWithinMs: ms };
}

/**
 * The tokens of the model call the step at this checkpoint makes, if it makes one: its invocation
 * reserves them while it reads the job (prepareTokens). A pending answer, applied first, changes
 * the call, so such a step reserves after its read.
 */
function nextCallTokens(input: AssistantInput, state: AssistantStepState | null): JsonValue | undefined {
  const current: AssistantStepState = state ?? initialState(input);
  if (current.awaitingAnswer) return undefined;
  const next = nextAction(current, input, { now: Date.now() });
  if (next.type !== 'call_model') return undefined;
  const serverTools = (input.serverTools ?? []).map(serverToolDefinition);
  return { tokens: estimatedTokens(modelCallRequest(next.state, input, serverTools)) };
}

/** Tokens held for the call: settled with its usage once answered, released when it got no answer. */
interface TokenHold {
  settle(usage: TokenUsage): Promise<void>;
  release(): Promise<void>;
}

const UNBUDGETED: TokenHold = { settle: async () => {}, release: async () => {} };

const heldTokens = (budget: TokenBudget, reservation: TokenReservation): TokenHold => ({
  settle: (usage) => budget.settle(reservation, usage, Date.now()),
  release: () => budget.release(reservation, Date.now()),
});

/**
 * Reserves the call's tokens from the tenant's budget. Over budget the step makes no call and
 * waits as long as the budget needs to refill (the workflow's Wait state, no Lambda held): the job
 * stays running, and the wait is not a failed attempt.
 */
async function reserveTokens(
  request: ModelCallRequest,
  state: AssistantStepState,
  step: number,
  { ctx, deps }: StepScope,
): Promise<TokenHold | { wait: Outcome }> {
  if (!deps.tokenBudget) return UNBUDGETED;
  const budget = deps.tokenBudget();
  const estimate = estimatedTokens(request);
  const early = await earlyHold(ctx, budget, estimate);
  if (early) return early;
  let result;
  try {
    result = await budget.reserve(ctx.tenant, estimate, Date.now());
  } catch (error) {
    throw new TransientStepError('the token budget could not be checked', { cause: error });
  }
  if (result.admitted) return heldTokens(budget, result.reservation);
  const waitSeconds = budgetWaitSeconds(result.waitMs);
  return {
    wait: {
      type: 'retry',
      state,
      waitSeconds,
      message: `waiting for the token budget (${result.tokensPerMinute} tokens per minute); model call ${step} in ${waitSeconds} s`,
    },
  };
}

/**
 * The reservation this invocation made while it read the job (prepareTokens), when it covers this
 * call; one that does not is released. A larger one is kept: the settle refunds what goes unused.
 */
async function earlyHold(ctx: Ctx, budget: TokenBudget, estimate: number): Promise<TokenHold | undefined> {
  // What prepareTokens started: the only work this agent prepares.
  const early = await (ctx.takePrepared() as Promise<ReserveResult> | undefined)?.catch(() => undefined);
  if (!early?.admitted) return undefined;
  const { reservation } = early;
  if (reservation.tokens >= reservationTokens(estimate, reservation.tokensPerMinute)) {
    return heldTokens(budget, reservation);
  }
  ctx.alongside(budget.release(reservation, Date.now()));
  return undefined;
}

/**
 * Reserves the next model call's tokens from its estimate, handed over by the step before, while
 * the job is read; the call's step takes the reservation (earlyHold), or it is released.
 */
function prepareTokens(deps: AssistantDeps, tenant: string, value: JsonValue): PreparedWork | undefined {
  const tokens = typeof value === 'object' && value !== null && !Array.isArray(value) ? value.tokens : null;
  if (!deps.tokenBudget || typeof tokens !== 'number' || !(tokens > 0)) return undefined;
  const budget = deps.tokenBudget();
  const result = budget.reserve(tenant, tokens, Date.now());
  result.catch(() => undefined);
  return {
    result,
    discard: async () => {
      const reserved = await result.catch(() => undefined);
      if (reserved?.admitted) await budget.release(reserved.reservation, Date.now());
    },
  };
}

function toolCallEvents(step: number, answer: ModelAnswer): StepEvent[] {
  return answer.toolCalls.map((call) => ({
    type: 'job.tool_call',
    data: { step, id: call.id, name: call.name, arguments: call.arguments },
  }));
}

/** A call that got no answer: transient trouble waits and retries while attempts remain; a refusal fails. */
function failedCall(error: unknown, state: AssistantStepState, scope: StepScope): Outcome {
  if (error instanceof ModelRefusedError) {
    return {
      type: 'fail',
      code: 'model_error',
      message: `the model provider refused the call: ${error.message}`,
    };
  }
  if (!(error instanceof ModelUnavailableError)) throw error;
  const failures = (state.failedAttempts ?? 0) + 1;
  if (failures >= scope.deps.maxAttempts()) {
    return {
      type: 'fail',
      code: 'model_unavailable',
      message: `the model provider stayed unavailable after ${failures} attempts: ${error.message}`,
    };
  }
  const waitSeconds = retryWaitSeconds(failures, error.retryAfterSeconds, scope.deps.random);
  return {
    type: 'retry',
    state: { ...state, failedAttempts: failures },
    waitSeconds,
    message: `model unavailable (${error.reason}); attempt ${failures + 1} in ${waitSeconds} s`,
  };
}
