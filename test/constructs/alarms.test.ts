import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.js';
import { CONFIG_CONTEXT_KEY } from '../../lib/stack-config.js';
import { logicalId, synth } from './support.js';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

const alarmsOf = (resources: Resources) =>
  Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');

function synthWith(config: unknown, extra?: (stack: ReturnType<typeof createApp>['stack']) => void) {
  const { stack } = createApp({ skipBundling: true, context: { [CONFIG_CONTEXT_KEY]: config } });
  extra?.(stack);
  return { stack, json: Template.fromStack(stack).toJSON() as { Resources: Resources } };
}

describe('alarm notifications', () => {
  it('by default creates a KMS-encrypted topic, TLS only, and every alarm of the stack notifies it', () => {
    const { stack, json } = synth();
    const topicRef = { Ref: logicalId(stack.alarmNotifications.topic) };
    const alarms = alarmsOf(json.Resources);
    expect(alarms.length).toBeGreaterThanOrEqual(12);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([topicRef]);
    }
    const topics = Object.values(json.Resources).filter((r) => r.Type === 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    expect(topics[0]?.Properties.KmsMasterKeyId).toBeDefined();
    const policy = Object.values(json.Resources).find((r) => r.Type === 'AWS::SNS::TopicPolicy');
    expect(JSON.stringify(policy?.Properties)).toContain('aws:SecureTransport');
    expect(Object.values(json.Resources).some((r) => r.Type === 'AWS::SNS::Subscription')).toBe(false);
  });

  it("lets CloudWatch use the topic's key, which the AWS managed SNS key would not", () => {
    const { json } = synth();
    const key = Object.values(json.Resources).find((r) => r.Type === 'AWS::KMS::Key');
    expect(key?.Properties.EnableKeyRotation).toBe(true);
    const statements = (key?.Properties.KeyPolicy as { Statement: Array<Record<string, unknown>> }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
  });

  it('subscribes the configured email address to the created topic', () => {
    const { json } = synthWith({ alarmNotifications: { email: 'oncall@example.com' } });
    const subscriptions = Object.values(json.Resources).filter((r) => r.Type === 'AWS::SNS::Subscription');
    expect(subscriptions.map((s) => s.Properties)).toEqual([
      expect.objectContaining({ Protocol: 'email', Endpoint: 'oncall@example.com' }),
    ]);
  });

  it('notifies a given topic instead of creating one, and reaches an alarm added later anywhere in the stack', () => {
    const arn = 'arn:aws:sns:eu-west-1:123456789012:paging';
    const { json } = synthWith({ alarmNotifications: { topicArn: arn } }, (stack) => {
      new cloudwatch.Alarm(stack.api, 'LateAlarm', {
        metric: stack.jobDlq.queue.metricApproximateNumberOfMessagesVisible(),
        threshold: 1,
        evaluationPeriods: 1,
      });
    });
    expect(Object.values(json.Resources).some((r) => r.Type === 'AWS::SNS::Topic')).toBe(false);
    const alarms = alarmsOf(json.Resources);
    expect(alarms.some(([id]) => id.includes('LateAlarm'))).toBe(true);
    for (const [id, alarm] of alarms) expect(alarm.Properties.AlarmActions, id).toEqual([arn]);
  });

  it.each([
    [{ topicArn: 'not-an-arn' }, 'alarmNotifications.topicArn'],
    [{ email: 'nobody' }, 'alarmNotifications.email'],
    [{ topicArn: 'arn:aws:sns:eu-west-1:123456789012:paging', email: 'a@example.com' }, 'not both'],
  ])('refuses %j before any resource exists', (alarmNotifications, message) => {
    expect(() =>
      createApp({ skipBundling: true, context: { [CONFIG_CONTEXT_KEY]: { alarmNotifications } } }),
    ).toThrow(message);
  });
});
