import { Validations } from 'aws-cdk-lib';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.js';

describe('cdk-nag AwsSolutions', () => {
  it('reports no finding that lacks a written acknowledgement', () => {
    const { app } = createApp({ skipBundling: true });
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const findings = report.violations.map(
      (v) =>
        `${v.ruleName} (${v.severity}) at ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`,
    );
    expect(findings).toEqual([]);
  });

  it.each([
    [
      'Bedrock',
      { kind: 'bedrock', modelIds: ['anthropic.claude-3-5-haiku-20241022-v1:0', 'us.amazon.nova-pro-v1:0'] },
    ],
    [
      'an OpenAI-compatible endpoint',
      {
        kind: 'openai',
        baseUrl: 'https://api.openai.com/v1',
        model: 'gpt-4o-mini',
        apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:model-key-AbCdEf',
      },
    ],
  ])('reports no unacknowledged finding with %s as the model provider', (_, modelProvider) => {
    const { app } = createApp({ skipBundling: true, context: { agentJobs: { modelProvider } } });
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(
      report.violations.map(
        (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
  });

  it('lets the app synthesize with the checks installed as a validation plugin', () => {
    const { app } = createApp({ skipBundling: true });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('would report an unacknowledged finding (the check can fail)', () => {
    const { app, stack } = createApp({ skipBundling: true });
    (stack.jobDlq.queue.node.defaultChild as CfnQueue).sqsManagedSseEnabled = false;
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SQS2');
  });
});
