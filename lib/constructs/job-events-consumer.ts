import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { FilterCriteria, FilterRule } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { ONE_MINUTE_MAX, thresholdAlarm } from './alarms.js';
import { HandlerFunction } from './handler-function.js';
import { JOB_ITEM, jobTableStreamSource } from './job-stream-consumer.js';
import type { JobsTable } from './jobs-table.js';
import type { WebhookDelivery } from './webhook-delivery.js';

export interface JobEventsConsumerProps {
  readonly jobs: JobsTable;
  /** Where a batch goes (as a pointer to the stream records) once its retries are spent. */
  readonly eventsDlq: sqs.IQueue;
  /** Where the webhook deliveries the events call for are queued. */
  readonly webhooks: WebhookDelivery;
  readonly logRetention: RetentionDays;
}

/** Longer than this behind the stream means SSE clients see progress noticeably late. */
const ITERATOR_AGE_ALARM_MS = 30_000;

/**
 * Turns every committed job write into entries of the job's event log (the source of
 * GET /events and of the SSE stream) and, being the stream's last free reader, into webhook
 * deliveries. It creates items, extends their expiry to the job's, and queues deliveries.
 */
export class JobEventsConsumer extends Construct {
  public readonly handler: HandlerFunction;
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: JobEventsConsumerProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'Function', {
      handler: INTERNAL_HANDLERS.appendEvents,
      logRetention: props.logRetention,
      timeout: Duration.seconds(30),
    });
    const fn = this.handler.function;
    // Query and UpdateItem: a terminal write extends the expiry of the job's earlier event and
    // delivery items when the job is kept longer than they assumed (a failure, a late end).
    props.jobs.bindTable(fn, ['PutItem', 'Query', 'UpdateItem']);
    props.webhooks.grantEnqueue(fn);
    fn.addEventSource(
      jobTableStreamSource(props.jobs, props.eventsDlq, [
        FilterCriteria.filter({ eventName: FilterRule.or('INSERT', 'MODIFY'), dynamodb: JOB_ITEM }),
      ]),
    );
    this.iteratorAgeAlarm = thresholdAlarm(this, 'IteratorAgeAlarm', {
      description: 'The job events consumer is falling behind: event logs and SSE streams lag the jobs.',
      metric: fn.metric('IteratorAge', ONE_MINUTE_MAX),
      threshold: ITERATOR_AGE_ALARM_MS,
      evaluationPeriods: 5,
    });
  }
}
