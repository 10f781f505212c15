import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../lambdas/local/stack.js';
import { ScriptedModelServer } from '../fixtures/scripted-model-server.js';
import { approvalAgent, heartbeatAgent, sizedAgent } from './agents.js';
import { modelScenario } from './model-scenarios.js';

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
  'large',
  'assistant',
  'usage',
  'tokens',
] as const;

/** The scripted model's default model id, which the stack's provider is configured with. */
export const SCRIPTED_MODEL = 'scripted-model';
/** Model call attempts per call in tests: retries spent within seconds. */
const MODEL_MAX_ATTEMPTS = '3';

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
  // The assistant's provider: a scripted OpenAI-compatible server on loopback (see model-scenarios.ts).
  const model = await new ScriptedModelServer({ script: modelScenario, models: [SCRIPTED_MODEL] }).start();
  const { teardown } = await startTestStack(project, TEST_TENANTS, {
    env: {
      STREAM_MAX_SECONDS,
      // Webhook retries a second or two apart: the tests see several attempts without waiting minutes.
      AGENT_JOBS_WEBHOOK_RETRY_SCHEDULE: '0,1,1,2,2,2,2,2',
      AGENT_JOBS_OPENAI_BASE_URL: model.baseUrl,
      AGENT_JOBS_MODEL: SCRIPTED_MODEL,
      AGENT_JOBS_MODEL_MAX_ATTEMPTS: MODEL_MAX_ATTEMPTS,
    },
    extraAgents: [approvalAgent, heartbeatAgent, sizedAgent],
  });
  return async () => {
    await teardown();
    await model.close();
  };
}
