import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../lambdas/local/stack.js';
import { approvalAgent, heartbeatAgent } from './agents.js';

/** One tenant per test file keeps files independent while sharing one local stack. */
export const TEST_TENANTS = [
  'contract',
  'idem',
  'iso-a',
  'iso-b',
  'valid',
  'lifecycle',
  'events',
  'events-other',
  'sweep',
  'redrive',
  'webhooks',
  'webhooks-rotation',
  'heartbeat',
  'sdk',
  'job-cli',
] as const;

/** Streams end after this many seconds, so the tests see clients resume across stream ends. */
const STREAM_MAX_SECONDS = '3';

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    apiKeys: Record<string, string>;
    sfnEndpoint: string;
    stateMachineArn: string;
    /** What the stack's handlers run with, for tests that invoke one as its trigger would. */
    handlerEnv: Record<string, string>;
    /** The stack's data dir, where it wrote the endpoints the operator CLI reads with --local. */
    dataDir: string;
  }
}

/**
 * Starts one in-memory local stack for a test project, with a key per tenant, and provides what the
 * HTTP test client needs. Returns the stack and the teardown vitest runs after the project.
 */
export async function startTestStack(
  project: TestProject,
  tenants: readonly string[],
  options: Pick<LocalStackOptions, 'extraAgents' | 'env'> = {},
): Promise<{ stack: LocalStack; teardown: () => Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-it-'));
  const apiKeys = Object.fromEntries(
    tenants.map((t) => [t, `ak_test_${t}_${Math.random().toString(36).slice(2)}`]),
  );
  const stack = await startLocalStack({
    ...options,
    port: 0,
    dataDir,
    inMemory: true,
    quiet: true,
    env: {
      ...options.env,
      AGENT_JOBS_API_KEYS: Object.entries(apiKeys)
        .map(([t, k]) => `${t}:${k}`)
        .join(','),
    },
  });
  project.provide('apiUrl', stack.url);
  project.provide('apiKeys', apiKeys);
  project.provide('sfnEndpoint', stack.endpoints.sfn);
  project.provide('stateMachineArn', stack.stateMachineArn);
  project.provide('handlerEnv', stack.handlerEnv);
  project.provide('dataDir', dataDir);
  const teardown = async () => {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { stack, teardown };
}

export default async function setup(project: TestProject) {
  return (
    await startTestStack(project, TEST_TENANTS, {
      // Webhook retries a second or two apart: the tests see several attempts without waiting minutes.
      env: { STREAM_MAX_SECONDS, AGENT_JOBS_WEBHOOK_RETRY_SCHEDULE: '0,1,1,2,2,2,2,2' },
      extraAgents: [approvalAgent, heartbeatAgent],
    })
  ).teardown;
}
