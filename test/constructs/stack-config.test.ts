import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.js';
import { DEFAULT_CONFIG, resolveConfig, StackConfigError } from '../../lib/stack-config.js';

describe('stack configuration', () => {
  it('defaults to deletion protection on', () => {
    expect(resolveConfig(undefined)).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.deletionProtection).toBe(true);
  });

  it('merges partial overrides onto the defaults', () => {
    const config = resolveConfig({ apiThrottling: { burstLimit: 20 }, logRetention: RetentionDays.ONE_WEEK });
    expect(config.apiThrottling).toEqual({
      rateLimit: DEFAULT_CONFIG.apiThrottling.rateLimit,
      burstLimit: 20,
    });
    expect(config.logRetention).toBe(7);
  });

  it('accepts the JSON text that `cdk synth -c agentJobs=...` passes', () => {
    expect(resolveConfig('{"deletionProtection":false}').deletionProtection).toBe(false);
  });

  it.each([
    [{ apiThrottling: { burstLimit: 1.5 } }, /apiThrottling.burstLimit/],
    [{ deletionProtection: 'false' }, /deletionProtection must be a boolean/],
    [{ apiThrottling: { rateLimit: -1 } }, /apiThrottling.rateLimit/],
    [{ apiThrottling: { burstLimit: 0 } }, /apiThrottling.burstLimit/],
    [{ logRetention: 10 }, /logRetention must be one of/],
    [{ jobRetention: { failedDays: 0 } }, /jobRetention.failedDays/],
    [{ jobRetention: { succeededDays: 2.5 } }, /jobRetention.succeededDays/],
  ])('rejects %j with a clear error', (input, message) => {
    expect(() => resolveConfig(input as never)).toThrow(StackConfigError);
    expect(() => resolveConfig(input as never)).toThrow(message);
  });

  it('reports every problem at once', () => {
    expect(() => resolveConfig({ deletionProtection: 1 as never, logRetention: 2 as never })).toThrow(
      /deletionProtection.*; logRetention/,
    );
  });

  it('rejects context that is not JSON', () => {
    expect(() => resolveConfig('{oops')).toThrow(/not valid JSON/);
  });

  it('fails app construction before any resource exists when context is invalid', () => {
    expect(() =>
      createApp({ skipBundling: true, context: { agentJobs: { apiThrottling: { rateLimit: 0 } } } }),
    ).toThrow(StackConfigError);
  });

  it('hands the configured retention to every function that updates jobs', () => {
    const { stack } = createApp({
      skipBundling: true,
      context: { agentJobs: { jobRetention: { failedDays: 90 } } },
    });
    const fns = Template.fromStack(stack).findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ JOB_RETENTION_FAILED_DAYS: '90' }) } },
    });
    // cancel-job, submit-input, agent-step, mark-failed, reconcile-execution and sweep-jobs, plus
    // replay-delivery and deliver-webhook, which update delivery items in the same table, and
    // job-events, which gives event and delivery items the expiry of their finished job.
    expect(Object.keys(fns)).toHaveLength(9);
    for (const fn of Object.values(fns)) {
      expect(fn.Properties.Environment.Variables.JOB_RETENTION_SUCCEEDED_DAYS).toBe(
        String(DEFAULT_CONFIG.jobRetention.succeededDays),
      );
    }
  });

  it('names the stack AgentJobs and skips bundling only when asked', () => {
    const { app, stack } = createApp({ skipBundling: true });
    expect(stack.stackName).toBe('AgentJobs');
    expect(stack.bundlingRequired).toBe(false);
    expect(app.node.tryGetContext('aws:cdk:bundling-stacks')).toEqual([]);
  });
});
