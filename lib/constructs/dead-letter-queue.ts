import { Duration, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ONE_MINUTE_MAX, thresholdAlarm } from './alarms.js';

export interface DeadLetterQueueProps {
  /** What lands here, for the alarm description an operator reads when it fires. */
  readonly purpose: string;
}

/** A queue of last resort: anything in it is work that needs a human, so one message raises the alarm. */
export class DeadLetterQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly depthAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself a dead-letter queue; a DLQ of a DLQ would only move the problem.',
    });
    this.depthAlarm = thresholdAlarm(this, 'DepthAlarm', {
      description: `Messages in the dead-letter queue: ${props.purpose}`,
      metric: this.queue.metricApproximateNumberOfMessagesVisible(ONE_MINUTE_MAX),
    });
  }
}
