import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/config/env.js';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../../lambdas/domain/webhook.js';
import { createApp } from '../../lib/app.js';
import { logicalId, roleStatements, synth } from './support.js';

const { stack, json, template } = synth();
const webhooks = stack.webhooks;
const queueId = logicalId(webhooks.queue);
const fnId = logicalId(webhooks.handler.function);
const env = () =>
  (json.Resources[fnId]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;

describe('webhook delivery', () => {
  it('queues deliveries encrypted, TLS-only, for 14 days, with a visibility timeout six times the deliverer timeout', () => {
    expect(json.Resources[queueId]!.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
      VisibilityTimeout: 180,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(webhooks.dlq.queue), 'Arn'] },
        maxReceiveCount: 50,
      },
    });
    expect(json.Resources[fnId]!.Properties.Timeout).toBe(30);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [{ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
      },
    });
  });

  it('feeds the deliverer from the queue in batches of 10 with partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 50 },
    });
  });

  it('gives the deliverer the queue, its DLQ, the schedule and the secrets prefix', () => {
    expect(env()).toMatchObject({
      [ENV.webhookQueueUrl]: { Ref: queueId },
      [ENV.webhookDlqUrl]: { Ref: logicalId(webhooks.dlq.queue) },
      [ENV.webhookRetrySchedule]: DEFAULT_RETRY_SCHEDULE_SECONDS.join(','),
      [ENV.webhookSecretsPrefix]: webhooks.secretsPrefix,
    });
    expect(webhooks.secretsPrefix).toBe(`agent-jobs/${stack.stackName}/webhook-secrets/`);
  });

  it('takes the retry schedule from the stack configuration', () => {
    const { stack: custom } = createApp({
      skipBundling: true,
      context: { agentJobs: { webhookRetrySchedule: [0, 10, 60] } },
    });
    Template.fromStack(custom).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.webhookRetrySchedule]: '0,10,60' }) },
    });
  });

  it('lets the deliverer read and create only the secrets under its prefix', () => {
    const statements = roleStatements(json, logicalId(webhooks.handler.role));
    const secrets = statements.filter((s) => s.actions.some((a) => a.startsWith('secretsmanager:')));
    expect(secrets).toHaveLength(1);
    expect(secrets[0]!.actions.sort()).toEqual([
      'secretsmanager:CreateSecret',
      'secretsmanager:GetSecretValue',
    ]);
    expect(JSON.stringify(secrets[0]!.resource)).toContain(`:secret:${webhooks.secretsPrefix}*`);
  });

  it('lets the notifier, replays and the sweep queue deliveries, and nobody else', () => {
    const senders = Object.entries(json.Resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) =>
        JSON.stringify(r.Properties.PolicyDocument).includes(
          JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] }),
        ),
      )
      .flatMap(([, r]) => (r.Properties.Roles as { Ref: string }[]).map((ref) => ref.Ref))
      .sort();
    expect(senders).toEqual(
      [
        logicalId(stack.eventsConsumer.handler.role),
        logicalId(stack.api.handler('replay-delivery').role),
        logicalId(stack.sweeper.handler.role),
        logicalId(webhooks.handler.role),
      ].sort(),
    );
  });

  it('alarms on deliverer errors and on any message in the webhook DLQ', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Threshold: 0,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(webhooks.dlq.queue), 'QueueName'] } },
      ],
    });
  });
});
