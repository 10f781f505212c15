import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, FilterRule, type IEventSource, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { JOB_SK, TABLE_KEYS } from '../../lambdas/config/table.js';
import type { TenantLimits } from '../../lambdas/domain/tenant-limits.js';
import { ONE_MINUTE_MAX, thresholdAlarm } from './alarms.js';
import { HandlerFunction } from './handler-function.js';
import type { JobsTable } from './jobs-table.js';
import { nagAttRef } from './nag-ref.js';

export interface JobStreamConsumerProps {
  readonly jobs: JobsTable;
  readonly stateMachine: sfn.StateMachine;
  /** Where a batch goes (as a pointer to the stream records) once its retries are spent. */
  readonly startDlq: sqs.IQueue;
  readonly logRetention: RetentionDays;
  /** The limits of tenants without their own: the consumer admits queued jobs up to `maxRunningJobs`. */
  readonly defaultLimits: TenantLimits;
}

/** Only the job item matters to the stream consumers; API-key and event items never wake them. */
export const JOB_ITEM = { Keys: { [TABLE_KEYS.sort]: { S: FilterRule.isEqual(JOB_SK) } } };

/** A record still failing after this long is better redriven by an operator from the DLQ. */
const MAX_RECORD_AGE = Duration.hours(1);

/**
 * How every consumer reads the jobs table's stream: in order from the trim horizon, retrying from
 * the first failed record with bisecting, then a pointer to the batch in its own DLQ.
 * DynamoDB Streams serves at most two concurrent Lambda readers per shard, and control-executions and
 * job-events are those two: a further consumer (e.g. a webhook notifier) must share one of them.
 */
export function jobTableStreamSource(
  jobs: JobsTable,
  dlq: sqs.IQueue,
  filters: Array<Record<string, unknown>>,
  batchSize = 25,
): IEventSource {
  return new DynamoEventSource(jobs.table, {
    startingPosition: StartingPosition.TRIM_HORIZON,
    batchSize,
    bisectBatchOnError: true,
    reportBatchItemFailures: true,
    retryAttempts: 8,
    maxRecordAge: MAX_RECORD_AGE,
    onFailure: new SqsDlq(dlq),
    filters,
  });
}

/**
 * Records per invocation of the execution control: a tenant's records in a batch share one
 * admission pass, and the tenant with the fewest records goes first, so larger batches both cost
 * fewer passes under a flood and let a quiet tenant's record pass more of the flood's.
 */
const CONTROL_BATCH_SIZE = 100;

/** Longer than this behind the stream means jobs are waiting noticeably before they start. */
const ITERATOR_AGE_ALARM_MS = 60_000;

/**
 * Turns committed job writes into executions: a new job starts one (named after the job, so a
 * replayed record cannot start a second), a cancelled job stops its execution.
 */
export class JobStreamConsumer extends Construct {
  public readonly handler: HandlerFunction;
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: JobStreamConsumerProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'Function', {
      handler: INTERNAL_HANDLERS.controlExecutions,
      logRetention: props.logRetention,
      timeout: Duration.seconds(30),
    });
    const fn = this.handler.function;
    fn.addEnvironment(ENV.stateMachineArn, props.stateMachine.stateMachineArn);
    props.jobs.grantSlots(fn, props.defaultLimits);
    fn.addEventSource(
      jobTableStreamSource(
        props.jobs,
        props.startDlq,
        [
          FilterCriteria.filter({ eventName: FilterRule.isEqual('INSERT'), dynamodb: JOB_ITEM }),
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('MODIFY'),
            // `pending` too: a job replaced after expiry (same key, new execution name) is a MODIFY.
            dynamodb: { ...JOB_ITEM, NewImage: { status: { S: FilterRule.or('pending', 'cancelled') } } },
          }),
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('MODIFY'),
            // A job's end gives its running slot back and admits the tenant's next queued job.
            dynamodb: {
              ...JOB_ITEM,
              OldImage: { status: { S: FilterRule.or('pending', 'running', 'input_required') } },
              NewImage: { status: { S: FilterRule.or('succeeded', 'failed') } },
            },
          }),
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('MODIFY'),
            dynamodb: {
              ...JOB_ITEM,
              OldImage: { status: { S: FilterRule.isEqual('input_required') } },
              NewImage: { status: { S: FilterRule.isEqual('running') } },
            },
          }),
        ],
        CONTROL_BATCH_SIZE,
      ),
    );
    this.grantExecutionControl(props.stateMachine);
    this.iteratorAgeAlarm = thresholdAlarm(this, 'IteratorAgeAlarm', {
      description: 'The job stream consumer is falling behind: new jobs wait before their execution starts.',
      metric: fn.metric('IteratorAge', ONE_MINUTE_MAX),
      threshold: ITERATOR_AGE_ALARM_MS,
      evaluationPeriods: 5,
    });
  }

  private grantExecutionControl(stateMachine: sfn.StateMachine): void {
    const executions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const role = this.handler.role;
    role.addToPolicy(
      new iam.PolicyStatement({
        // SendTaskSuccess resumes a wait for input with the token the job item carries.
        actions: ['states:StartExecution', 'states:SendTaskSuccess'],
        resources: [stateMachine.stateMachineArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution', 'states:DescribeExecution'],
        resources: [executions],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${nagAttRef(stateMachine, 'Name')}:*]`,
      reason:
        'Executions are named after job ids, so the consumer must stop any execution of this one state machine.',
    });
  }
}
