import { App } from 'aws-cdk-lib';
import { CONFIG_CONTEXT_KEY } from './stack-config.js';
import { AgentJobsStack } from './stacks/agent-jobs-stack.js';

export const STACK_NAME = 'AgentJobs';

export interface CreateAppOptions {
  /** Synthesize without running esbuild: for construct tests and the local stack, which need only the template. */
  readonly skipBundling?: boolean;
  readonly outdir?: string;
  readonly context?: Record<string, unknown>;
}

export function createApp(options: CreateAppOptions = {}): { app: App; stack: AgentJobsStack } {
  const context = { ...options.context, ...(options.skipBundling ? { 'aws:cdk:bundling-stacks': [] } : {}) };
  const app = new App({ outdir: options.outdir, context });
  const stack = new AgentJobsStack(app, STACK_NAME, {
    stackName: STACK_NAME,
    description: 'agent-jobs: asynchronous job API for AI agents',
    config: app.node.tryGetContext(CONFIG_CONTEXT_KEY),
  });
  return { app, stack };
}
