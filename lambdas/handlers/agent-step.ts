import { createLogger } from '../config/logger.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { largeValueStoreFromEnv } from '../adapters/s3-large-value-store.js';
import { TaskTokenClient } from '../adapters/task-token-client.js';
import { findAgent } from '../agents/registry.js';
import { StepRunner } from '../agents/step-runner.js';
import type { AgentStepEvent, AgentStepResult } from '../config/workflow.js';

const runner = new StepRunner({
  store: jobStoreFromEnv(process.env, largeValueStoreFromEnv()),
  tasks: new TaskTokenClient(),
  findAgent,
  logger: createLogger(),
});

/**
 * One agent step, in either form. AgentStep invokes the function synchronously and takes the
 * returned result; AgentStepWithHeartbeat, for agents with `heartbeatSeconds`, invokes it
 * asynchronously with a task token, and the result goes back through the token.
 */
export async function handler(event: AgentStepEvent & { taskToken: string }): Promise<undefined>;
export async function handler(event: AgentStepEvent & { taskToken?: undefined }): Promise<AgentStepResult>;
export async function handler(event: AgentStepEvent): Promise<AgentStepResult | undefined> {
  return event.taskToken === undefined ? runner.run(event) : runner.runAndReport(event, event.taskToken);
}
