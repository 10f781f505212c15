import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import type { TenantLimits } from '../../lambdas/domain/tenant-limits.js';
import { ONE_MINUTE_SUM, thresholdAlarm } from './alarms.js';
import { HandlerFunction } from './handler-function.js';
import type { JobsTable } from './jobs-table.js';
import type { WebhookDelivery } from './webhook-delivery.js';
import { nagAttRef } from './nag-ref.js';

export interface JobSweeperProps {
  readonly jobs: JobsTable;
  readonly stateMachine: sfn.StateMachine;
  readonly jobDlq: sqs.IQueue;
  /** Overdue deliveries get a new queue message. */
  readonly webhooks: WebhookDelivery;
  readonly logRetention: RetentionDays;
  /** The limits of tenants without their own: the sweep admits queued jobs up to `maxRunningJobs`. */
  readonly defaultLimits: TenantLimits;
}

export const SWEEP_INTERVAL = Duration.minutes(5);

/**
 * The safety net under the event-driven paths: every few minutes it reads the sparse index of live
 * jobs (a page at a time, from where the last run stopped, within its time budget) and starts those
 * stuck in pending, resumes answered waits for input, or fails (and dead-letters) those without a
 * live execution.
 */
export class JobSweeper extends Construct {
  public readonly handler: HandlerFunction;
  public readonly schedule: events.Rule;
  public readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: JobSweeperProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'Function', {
      handler: INTERNAL_HANDLERS.sweepJobs,
      logRetention: props.logRetention,
      timeout: Duration.minutes(2),
    });
    const fn = this.handler.function;
    props.jobs.grantLiveQuery(fn);
    // GetItem reads an overdue delivery's round before it is requeued, and an answered wait's
    // token; PutItem saves where the sweep stopped reading live jobs and overdue deliveries.
    props.jobs.bindTable(fn, ['GetItem', 'PutItem', 'UpdateItem']);
    props.jobs.grantSlots(fn, props.defaultLimits);
    props.webhooks.grantEnqueue(fn);
    fn.addEnvironment(ENV.stateMachineArn, props.stateMachine.stateMachineArn);
    fn.addEnvironment(ENV.jobDlqUrl, props.jobDlq.queueUrl);
    props.jobDlq.grantSendMessages(fn);
    this.grantExecutions(props.stateMachine);
    this.schedule = new events.Rule(this, 'Schedule', {
      description:
        'Repairs jobs stuck in pending or left live without an execution, and requeues overdue webhook deliveries.',
      schedule: events.Schedule.rate(SWEEP_INTERVAL),
      // One sweep at a time is enough; a missed run is covered by the next one.
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 0 })],
    });
    this.errorsAlarm = thresholdAlarm(this, 'ErrorsAlarm', {
      description: 'The job sweep failed: stuck jobs are not being repaired.',
      metric: fn.metricErrors(ONE_MINUTE_SUM),
    });
  }

  private grantExecutions(stateMachine: sfn.StateMachine): void {
    const role = this.handler.role;
    role.addToPolicy(
      new iam.PolicyStatement({
        // SendTaskSuccess resumes an answered wait for input whose stream record was lost.
        actions: ['states:StartExecution', 'states:SendTaskSuccess'],
        resources: [stateMachine.stateMachineArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: [
          Stack.of(this).formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${stateMachine.stateMachineName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${nagAttRef(stateMachine, 'Name')}:*]`,
      reason:
        'Executions are named after job ids, so the sweep must describe any execution of this one state machine.',
    });
  }
}
