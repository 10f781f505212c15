import type { AgentDefinition } from './agent.js';
import { echoAgent } from './echo.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds agents of every input and state type
const AGENTS: ReadonlyMap<string, AgentDefinition<any, any>> = new Map([[echoAgent.name, echoAgent]]);

export function findAgent(name: string): AgentDefinition<unknown, unknown> | undefined {
  return AGENTS.get(name);
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
