import { Aspects, Duration, type IAspect, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, type IConstruct } from 'constructs';

export interface ThresholdAlarmProps {
  readonly metric: cloudwatch.IMetric;
  readonly description: string;
  /** Fires when the metric goes above this; 0 means "any occurrence is a problem". */
  readonly threshold?: number;
  readonly evaluationPeriods?: number;
}

/** Alarms get their action from AlarmNotifications, which reaches every alarm of the stack. */
export function thresholdAlarm(scope: Construct, id: string, props: ThresholdAlarmProps): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric,
    threshold: props.threshold ?? 0,
    evaluationPeriods: props.evaluationPeriods ?? 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    // No data means nothing happened (no messages, no executions), which is healthy.
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

export const ONE_MINUTE_SUM: cloudwatch.MetricOptions = {
  period: Duration.minutes(1),
  statistic: cloudwatch.Stats.SUM,
};
export const ONE_MINUTE_MAX: cloudwatch.MetricOptions = {
  period: Duration.minutes(1),
  statistic: cloudwatch.Stats.MAXIMUM,
};

export interface AlarmNotificationsProps {
  /** An existing SNS topic to notify; without it the stack creates an encrypted one. */
  readonly topicArn?: string | undefined;
  /** An address the created topic mails (the recipient confirms the subscription once). */
  readonly email?: string | undefined;
}

/** Adds the topic as the alarm action of every alarm it visits, whoever created the alarm. */
class NotifyOnAlarm implements IAspect {
  constructor(private readonly action: SnsAction) {}

  visit(node: IConstruct): void {
    if (node instanceof cloudwatch.AlarmBase) node.addAlarmAction(this.action);
  }
}

/**
 * Where alarms go: failed jobs tell their clients an operator has been alerted, so every alarm of
 * the stack, present and future, notifies one SNS topic. Applied as an Aspect on the stack, so an
 * alarm added anywhere later is covered without remembering to wire it.
 */
export class AlarmNotifications extends Construct {
  public readonly topic: sns.ITopic;

  constructor(scope: Construct, id: string, props: AlarmNotificationsProps = {}) {
    super(scope, id);
    this.topic = props.topicArn
      ? sns.Topic.fromTopicArn(this, 'Topic', props.topicArn)
      : this.createTopic(props.email);
    Aspects.of(Stack.of(this)).add(new NotifyOnAlarm(new SnsAction(this.topic)));
  }

  private createTopic(email: string | undefined): sns.Topic {
    // CloudWatch cannot use the AWS managed SNS key: publishing needs a key whose policy lets it in.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the agent-jobs alarm topic',
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const topic = new sns.Topic(this, 'Topic', {
      displayName: 'agent-jobs alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (email) topic.addSubscription(new EmailSubscription(email));
    return topic;
  }
}
