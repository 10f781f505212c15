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
