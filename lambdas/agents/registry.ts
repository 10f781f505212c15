import type { AgentDefinition } from './agent.js';
import { echoAgent } from './echo.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds agents of every input and state type
const AGENTS = new Map<string, AgentDefinition<any, any>>([[echoAgent.name, echoAgent]]);

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
  AGENTS.set(agent.name, agent);
}

export function agentNames(): string[] {
  return [...AGENTS.keys()];
}

/** The longest step any agent may take: the workflow's Task timeout and the step Lambda's timeout follow it. */
export function maxStepTimeoutSeconds(): number {
  return Math.max(...[...AGENTS.values()].map((a) => a.stepTimeoutSeconds));
}

/** The longest job any agent may run: the execution-level timeout backstop follows it. */
export function maxJobTimeoutSeconds(): number {
  return Math.max(...[...AGENTS.values()].map((a) => a.maxTimeoutSeconds));
}
