import { createLogger } from '../config/logger.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { TaskTokenClient } from '../adapters/task-token-client.js';
import { type FindAgent, findAgent } from '../agents/registry.js';
import { StepRunner } from '../agents/step-runner.js';
import type { AgentStepEvent, AgentStepResult } from '../config/workflow.js';

const deps = { store: jobStoreFromEnv(), tasks: new TaskTokenClient(), logger: createLogger() };

/**
 * The step over the given agents: deployed over the built-in ones; the local stack adds the agents
 * its tests bring (LocalStackOptions.extraAgents).
 */
export function withAgents(find: FindAgent) {
  const runner = new StepRunner({ ...deps, findAgent: find });
  return (event: AgentStepEvent): Promise<AgentStepResult | undefined> =>
    event.taskToken === undefined ? runner.run(event) : runner.runAndReport(event, event.taskToken);
}

const step = withAgents(findAgent);

/**
 * One agent step, in either form. AgentStep invokes the function synchronously and takes the
 * returned result; AgentStepWithHeartbeat, for agents with `heartbeatSeconds`, invokes it
 * asynchronously with a task token, and the result goes back through the token.
 */
export async function handler(event: AgentStepEvent & { taskToken: string }): Promise<undefined>;
export async function handler(event: AgentStepEvent & { taskToken?: undefined }): Promise<AgentStepResult>;
export async function handler(event: AgentStepEvent): Promise<AgentStepResult | undefined> {
  return step(event);
}
