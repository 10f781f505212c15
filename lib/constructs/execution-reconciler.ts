import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { EXECUTION_STATUS_CHANGE } from '../../lambdas/config/workflow.js';
import { ONE_MINUTE_SUM, thresholdAlarm } from './alarms.js';
import { HandlerFunction } from './handler-function.js';
import type { JobsTable } from './jobs-table.js';

export interface ExecutionReconcilerProps {
  readonly jobs: JobsTable;
  readonly stateMachine: sfn.IStateMachine;
  readonly jobDlq: sqs.IQueue;
  readonly logRetention: RetentionDays;
}

/** Execution ends the workflow may not have been able to record on the job itself. */
export const RECONCILED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/**
 * Settles jobs whose execution ended from outside the workflow's own Catch paths (execution
 * timeout, StopExecution by an operator, runtime errors): an EventBridge rule on this state
 * machine's status changes invokes the reconciler, which fails the job and sends it to the job DLQ.
 */
export class ExecutionReconciler extends Construct {
  public readonly handler: HandlerFunction;
  public readonly rule: events.Rule;
  public readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ExecutionReconcilerProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'Function', {
      handler: INTERNAL_HANDLERS.reconcileExecution,
      logRetention: props.logRetention,
    });
    const fn = this.handler.function;
    props.jobs.bindTable(fn, ['GetItem', 'UpdateItem']);
    fn.addEnvironment(ENV.jobDlqUrl, props.jobDlq.queueUrl);
    props.jobDlq.grantSendMessages(fn);
    this.rule = new events.Rule(this, 'ExecutionEnded', {
      description: 'Job executions that ended failed, timed out or aborted: settle their jobs.',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_CHANGE],
        detail: { stateMachineArn: [props.stateMachine.stateMachineArn], status: RECONCILED_STATUSES },
      },
      targets: [
        new targets.LambdaFunction(fn, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
    this.errorsAlarm = thresholdAlarm(this, 'ErrorsAlarm', {
      description:
        'The execution reconciler failed: a job whose execution ended may still show as live until the sweep repairs it.',
      metric: fn.metricErrors(ONE_MINUTE_SUM),
    });
  }
}
