import { recordModelCall } from '../adapters/model-metrics.js';
import { type DynamoTokenBudget, tokenBudgetFromEnv } from '../adapters/dynamo-token-budget.js';
import { modelProvider } from '../adapters/models/provider-from-env.js';
import { deploymentFromEnv } from '../config/env.js';
import { modelConfig, modelMaxAttemptsFromEnv } from '../config/model.js';
import type { AgentDefinition } from './agent.js';
import { createAssistantAgent } from './assistant/assistant-agent.js';
import { echoAgent } from './echo.js';

let tokenBudget: DynamoTokenBudget | undefined;

/** The assistant reads its configuration on first use, so importing the registry reads no environment. */
export const assistantAgent = createAssistantAgent({
  provider: modelProvider,
  unavailableReason: () => (modelConfig() ? undefined : 'no model provider is configured'),
  deployment: () => deploymentFromEnv(),
  maxAttempts: () => modelMaxAttemptsFromEnv(),
  recordModelCall,
  tokenBudget: () => (tokenBudget ??= tokenBudgetFromEnv()),
});

/**
 * Limits the workflow relies on, checked when an agent is registered rather than when a job first
 * runs it: Step Functions rejects a heartbeat that is not a positive whole number or not below the
 * task's timeout, and that would fail every job of the agent at its first step.
 */
export function assertValidAgent(
  agent: Pick<AgentDefinition, 'name' | 'stepTimeoutSeconds' | 'heartbeatSeconds'>,
) {
  const { heartbeatSeconds, stepTimeoutSeconds } = agent;
  if (heartbeatSeconds === undefined) return;
  if (!Number.isInteger(heartbeatSeconds) || heartbeatSeconds < 1 || heartbeatSeconds >= stepTimeoutSeconds) {
    throw new Error(
      `agent ${agent.name}: heartbeatSeconds must be a whole number from 1 to below stepTimeoutSeconds (${stepTimeoutSeconds}), got ${heartbeatSeconds}`,
    );
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds agents of every input and state type
type AnyAgent = AgentDefinition<any, any>;

/** The agents a deployment runs. */
export const BUILT_IN_AGENTS: readonly AnyAgent[] = [echoAgent, assistantAgent];

export type FindAgent = (name: string) => AgentDefinition<unknown, unknown> | undefined;

/** A fixed lookup over `agents`, each checked; two agents may not share a name. */
export function agentLookup(agents: readonly AnyAgent[]): FindAgent {
  const byName = new Map<string, AnyAgent>();
  for (const agent of agents) {
    if (byName.has(agent.name)) throw new Error(`an agent named ${agent.name} is already registered`);
    assertValidAgent(agent);
    byName.set(agent.name, agent);
  }
  return (name) => byName.get(name);
}

/** The deployment's agents by name: what the handlers look agents up in. */
export const findAgent: FindAgent = agentLookup(BUILT_IN_AGENTS);

export function agentNames(): string[] {
  return BUILT_IN_AGENTS.map((a) => a.name);
}

export function allAgents(): readonly AgentDefinition<unknown, unknown>[] {
  return BUILT_IN_AGENTS;
}

/** The longest step any agent may take: the workflow's Task timeout and the step Lambda's timeout follow it. */
export function maxStepTimeoutSeconds(): number {
  return Math.max(...BUILT_IN_AGENTS.map((a) => a.stepTimeoutSeconds));
}

/** The longest job any agent may run: the execution-level timeout backstop follows it. */
export function maxJobTimeoutSeconds(): number {
  return Math.max(...BUILT_IN_AGENTS.map((a) => a.maxTimeoutSeconds));
}
