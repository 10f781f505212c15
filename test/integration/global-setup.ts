import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalStack } from '../../lambdas/local/stack.js';

/** One tenant per test file keeps files independent while sharing one local stack. */
export const TEST_TENANTS = ['contract', 'idem', 'iso-a', 'iso-b', 'valid', 'lifecycle'] as const;

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    apiKeys: Record<string, string>;
    sfnEndpoint: string;
    stateMachineArn: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-it-'));
  const apiKeys = Object.fromEntries(
    TEST_TENANTS.map((t) => [t, `ak_test_${t}_${Math.random().toString(36).slice(2)}`]),
  );
  const stack = await startLocalStack({
    port: 0,
    dataDir,
    inMemory: true,
    quiet: true,
    env: {
      AGENT_JOBS_API_KEYS: Object.entries(apiKeys)
        .map(([t, k]) => `${t}:${k}`)
        .join(','),
    },
  });
  project.provide('apiUrl', stack.url);
  project.provide('apiKeys', apiKeys);
  project.provide('sfnEndpoint', stack.endpoints.sfn);
  project.provide('stateMachineArn', stack.stateMachineArn);
  return async () => {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
