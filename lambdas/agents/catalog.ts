import { modelConfig } from '../config/model.js';
import type { AgentDescriptor } from './agent.js';
import { assistantDescriptor } from './assistant/descriptor.js';
import { echoAgent } from './echo.js';

/**
 * The deployment's agents as the functions that accept, list and bound jobs see them: names,
 * versions, input schemas, timeouts and availability, without the code that runs their steps
 * (registry.ts), so a submit function does not load model providers and tools it never calls.
 */

/** The assistant reads its configuration on first use, so importing the catalog reads no environment. */
export const modelUnavailableReason = () => (modelConfig() ? undefined : 'no model provider is configured');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the catalog holds agents of every input type
type AnyDescriptor = AgentDescriptor<any>;

/** The agents a deployment runs; registry.ts gives each its steps, in this order. */
export const AGENT_CATALOG: readonly AnyDescriptor[] = [
  echoAgent,
  assistantDescriptor(modelUnavailableReason),
];

/**
 * Limits the workflow relies on, checked when an agent is registered rather than when a job first
 * runs it: Step Functions rejects a heartbeat that is not a positive whole number or not below the
 * task's timeout, and that would fail every job of the agent at its first step.
 */
export function assertValidAgent(
  agent: Pick<AgentDescriptor, 'name' | 'stepTimeoutSeconds' | 'heartbeatSeconds'>,
) {
  const { heartbeatSeconds, stepTimeoutSeconds } = agent;
  if (heartbeatSeconds === undefined) return;
  if (!Number.isInteger(heartbeatSeconds) || heartbeatSeconds < 1 || heartbeatSeconds >= stepTimeoutSeconds) {
    throw new Error(
      `agent ${agent.name}: heartbeatSeconds must be a whole number from 1 to below stepTimeoutSeconds (${stepTimeoutSeconds}), got ${heartbeatSeconds}`,
    );
  }
}

/** An agent by name; what the request handlers look agents up in. */
export type FindAgentDescriptor = (name: string) => AgentDescriptor | undefined;

/** A fixed lookup over `agents`, each checked; two agents may not share a name. */
export function agentLookup<A extends AnyDescriptor>(agents: readonly A[]): (name: string) => A | undefined {
  const byName = new Map<string, A>();
  for (const agent of agents) {
    if (byName.has(agent.name)) throw new Error(`an agent named ${agent.name} is already registered`);
    assertValidAgent(agent);
    byName.set(agent.name, agent);
  }
  return (name) => byName.get(name);
}

/** The deployment's agents by name. */
export const findAgentDescriptor: FindAgentDescriptor = agentLookup(AGENT_CATALOG);

export function agentNames(): string[] {
  return AGENT_CATALOG.map((a) => a.name);
}

export function allAgentDescriptors(): readonly AgentDescriptor[] {
  return AGENT_CATALOG;
}

/** The longest step any agent may take: the workflow's Task timeout and the step Lambda's timeout follow it. */
export function maxStepTimeoutSeconds(): number {
  return Math.max(...AGENT_CATALOG.map((a) => a.stepTimeoutSeconds));
}

/** The longest job any agent may run: the execution-level timeout backstop follows it. */
export function maxJobTimeoutSeconds(): number {
  return Math.max(...AGENT_CATALOG.map((a) => a.maxTimeoutSeconds));
}
