import type { TestProject } from 'vitest/node';
import { startTestStack } from '../integration/global-setup.js';
import { POISON_AGENTS } from './poison-agents.js';
import { ENGINE_TEST_LIMITS } from './engine-limits.js';

/** One tenant per concern, so no test's jobs show up in another's counts. */
export const RELIABILITY_TENANTS = [
  'load',
  'fuzz',
  'iso-owner',
  'iso-other',
  'poison',
  'noisy',
  'quiet',
] as const;

declare module 'vitest' {
  export interface ProvidedContext {
    sqsEndpoint: string;
    jobDlqUrl: string;
  }
}

/** The job DLQ is the queue the SendToJobDlq state writes to, named after the construct that makes it. */
const JOB_DLQ_LOGICAL_ID = /^JobDlq/;

export default async function setup(project: TestProject) {
  const { stack, teardown } = await startTestStack(project, RELIABILITY_TENANTS, {
    extraAgents: POISON_AGENTS,
    // Thousands of jobs: keep the handlers' info lines out of the test output.
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', AGENT_JOBS_DEFAULT_LIMITS: ENGINE_TEST_LIMITS },
  });
  const dlq = Object.entries(stack.queues).find(([id]) => JOB_DLQ_LOGICAL_ID.test(id));
  if (!dlq) throw new Error(`no job DLQ among the queues ${Object.keys(stack.queues).join(', ')}`);
  project.provide('sqsEndpoint', stack.endpoints.sqs);
  project.provide('jobDlqUrl', dlq[1]);
  return teardown;
}
