import { recordModelCall } from '../adapters/model-metrics.js';
import { modelProvider } from '../adapters/models/provider-from-env.js';
import { deploymentFromEnv } from '../config/env.js';
import { modelConfig, modelMaxAttemptsFromEnv } from '../config/model.js';
import type { AgentDefinition } from './agent.js';
import { createAssistantAgent } from './assistant/assistant-agent.js';
import { echoAgent } from './echo.js';

/** The assistant reads its configuration on first use, so importing the registry reads no environment. */
export const assistantAgent = createAssistantAgent({
  provider: modelProvider,
  unavailableReason: () => (modelConfig() ? undefined : 'no model provider is configured'),
  deployment: () => deploymentFromEnv(),
  maxAttempts: () => modelMaxAttemptsFromEnv(),
  recordModelCall,
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
const AGENTS = new Map<string, AgentDefinition<any, any>>([
  [echoAgent.name, echoAgent],
  [assistantAgent.name, assistantAgent],
]);
for (const agent of AGENTS.values()) assertValidAgent(agent);

export function findAgent(name: string): AgentDefinition<unknown, unknown> | undefined {
  return AGENTS.get(name);
}

/**
 * Adds an agent at run time. Only the local stack calls it, for agents a test brings (see
 * LocalStackOptions.extraAgents); a deployment's agents are the ones listed here.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- agents of any input and state type
export function registerAgent(agent: AgentDefinition<any, any>): void {
  if (AGENTS.has(agent.name)) throw new Error(`an agent named ${agent.name} is already registered`);
  assertValidAgent(agent);
  AGENTS.set(agent.name, agent);
}

export function agentNames(): string[] {
  return [...AGENTS.keys()];
}

export function allAgents(): AgentDefinition<unknown, unknown>[] {
  return [...AGENTS.values()];
}

/** The longest step any agent may take: the workflow's Task timeout and the step Lambda's timeout follow it. */
export function maxStepTimeoutSeconds(): number {
  return Math.max(...[...AGENTS.values()].map((a) => a.stepTimeoutSeconds));
}

/** The longest job any agent may run: the execution-level timeout backstop follows it. */
export function maxJobTimeoutSeconds(): number {
  return Math.max(...[...AGENTS.values()].map((a) => a.maxTimeoutSeconds));
}
