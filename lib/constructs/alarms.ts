import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';

export interface ThresholdAlarmProps {
  readonly metric: cloudwatch.IMetric;
  readonly description: string;
  /** Fires when the metric goes above this; 0 means "any occurrence is a problem". */
  readonly threshold?: number;
  readonly evaluationPeriods?: number;
}

/**
 * Alarms carry no actions: where pages go (SNS, chat, a ticketing bridge) is the deployer's
 * choice, and every alarm is exposed on the stack so one line can attach it.
 */
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
