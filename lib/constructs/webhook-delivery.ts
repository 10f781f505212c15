import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { ONE_MINUTE_SUM, thresholdAlarm } from './alarms.js';
import { DeadLetterQueue } from './dead-letter-queue.js';
import { HandlerFunction } from './handler-function.js';
import type { JobsTable } from './jobs-table.js';

export interface WebhookDeliveryProps {
  readonly jobs: JobsTable;
  /** Seconds before each attempt; the first is the first attempt. */
  readonly retrySchedule: readonly number[];
  readonly logRetention: RetentionDays;
}

/** One POST may take 10 s; a batch's messages go out concurrently, so this bounds a whole batch. */
const DELIVERER_TIMEOUT = Duration.seconds(30);
/**
 * A message that fails this often without being settled is poison (the deliverer keeps crashing on
 * it). Far above what a full retry schedule needs, since each wait longer than 12 h takes two receives.
 */
const MAX_RECEIVES = 50;

/**
 * Webhook delivery: a queue with one message per delivery round, and the deliverer that makes the
 * attempts, hiding each message until its next attempt is due. The delivery records themselves live
 * in the jobs table; the queue only carries them.
 */
export class WebhookDelivery extends Construct {
  public readonly queue: sqs.Queue;
  public readonly dlq: DeadLetterQueue;
  public readonly handler: HandlerFunction;
  public readonly errorsAlarm: cloudwatch.Alarm;
  /** Tenants' signing secrets are the Secrets Manager secrets named with this prefix. */
  public readonly secretsPrefix: string;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);
    this.secretsPrefix = `agent-jobs/${Stack.of(this).stackName}/webhook-secrets/`;
    this.dlq = new DeadLetterQueue(this, 'Dlq', {
      purpose:
        'webhook deliveries that failed every attempt of their schedule. The jobs stay available by polling; replay the deliveries once the receiver is fixed.',
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The whole default schedule spans a little over three days.
      retentionPeriod: Duration.days(14),
      // Lambda's advice for SQS sources: six times the function timeout.
      visibilityTimeout: Duration.seconds(DELIVERER_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.dlq.queue, maxReceiveCount: MAX_RECEIVES },
    });
    this.handler = new HandlerFunction(this, 'Function', {
      handler: INTERNAL_HANDLERS.deliverWebhook,
      logRetention: props.logRetention,
      timeout: DELIVERER_TIMEOUT,
    });
    const fn = this.handler.function;
    props.jobs.bindTable(fn, ['GetItem', 'UpdateItem']);
    fn.addEnvironment(ENV.webhookQueueUrl, this.queue.queueUrl);
    fn.addEnvironment(ENV.webhookDlqUrl, this.dlq.queue.queueUrl);
    fn.addEnvironment(ENV.webhookRetrySchedule, props.retrySchedule.join(','));
    fn.addEnvironment(ENV.webhookSecretsPrefix, this.secretsPrefix);
    this.dlq.queue.grantSendMessages(fn);
    // Receive and delete come with the event source; hiding a message until its next attempt does not.
    this.queue.grant(fn, 'sqs:ChangeMessageVisibility');
    fn.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 50 }),
    );
    this.grantSecrets();
    this.errorsAlarm = thresholdAlarm(this, 'ErrorsAlarm', {
      description:
        'The webhook deliverer is failing (table or Secrets Manager unreachable): deliveries are delayed, not lost.',
      metric: fn.metricErrors(ONE_MINUTE_SUM),
      evaluationPeriods: 5,
    });
  }

  /** Lets a function queue deliveries (the notifier, replays, the sweep). */
  public grantEnqueue(fn: IFunction & { addEnvironment(key: string, value: string): unknown }): void {
    fn.addEnvironment(ENV.webhookQueueUrl, this.queue.queueUrl);
    this.queue.grantSendMessages(fn);
  }

  /**
   * Read, and create on first use, the tenants' signing secrets under this stack's prefix; nothing
   * else in Secrets Manager. They are encrypted with the account's Secrets Manager key.
   */
  private grantSecrets(): void {
    const secrets = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.secretsPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.handler.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret'],
        resources: [secrets],
      }),
    );
    Validations.of(this.handler.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${this.secretsPrefix}*]`,
      reason:
        "One secret per tenant, created when the tenant's first webhook is signed: the names are only known by their prefix.",
    });
  }
}
