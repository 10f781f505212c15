import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AlarmNotifications } from '../constructs/alarms.js';
import { JobsApi } from '../constructs/api.js';
import { ModelAccess } from '../constructs/model-access.js';
import { DeadLetterQueue } from '../constructs/dead-letter-queue.js';
import { ExecutionReconciler } from '../constructs/execution-reconciler.js';
import { JobEventsConsumer } from '../constructs/job-events-consumer.js';
import { JobStreamConsumer } from '../constructs/job-stream-consumer.js';
import { JobSweeper } from '../constructs/job-sweeper.js';
import { JobsTable } from '../constructs/jobs-table.js';
import { WebhookDelivery } from '../constructs/webhook-delivery.js';
import { type AgentJobsConfig, type AgentJobsConfigInput, resolveConfig } from '../stack-config.js';
import { JobWorkflow } from '../workflows/job-workflow.js';

export interface AgentJobsStackProps extends StackProps {
  readonly config?: AgentJobsConfigInput;
}

export class AgentJobsStack extends Stack {
  public readonly config: AgentJobsConfig;
  public readonly jobs: JobsTable;
  public readonly jobDlq: DeadLetterQueue;
  public readonly startDlq: DeadLetterQueue;
  public readonly eventsDlq: DeadLetterQueue;
  public readonly stepDlq: DeadLetterQueue;
  public readonly workflow: JobWorkflow;
  public readonly streamConsumer: JobStreamConsumer;
  public readonly eventsConsumer: JobEventsConsumer;
  public readonly reconciler: ExecutionReconciler;
  public readonly sweeper: JobSweeper;
  public readonly webhooks: WebhookDelivery;
  public readonly api: JobsApi;
  public readonly model: ModelAccess;
  public readonly alarmNotifications: AlarmNotifications;

  constructor(scope: Construct, id: string, props: AgentJobsStackProps = {}) {
    super(scope, id, props);
    this.config = resolveConfig(props.config);
    const { logRetention } = this.config;
    this.alarmNotifications = new AlarmNotifications(
      this,
      'AlarmNotifications',
      this.config.alarmNotifications,
    );
    this.jobs = new JobsTable(this, 'Jobs', {
      deletionProtection: this.config.deletionProtection,
      retention: this.config.jobRetention,
    });
    this.jobDlq = new DeadLetterQueue(this, 'JobDlq', {
      purpose: 'failed jobs, each with its full execution state, for investigation or redrive.',
    });
    this.startDlq = new DeadLetterQueue(this, 'StartDlq', {
      purpose:
        'stream batches the consumer could not process: jobs that may never have started or been stopped.',
    });
    // Its own queue: a batch here means event logs with missing entries, not jobs left unstarted.
    this.eventsDlq = new DeadLetterQueue(this, 'EventsDlq', {
      purpose: 'stream batches whose job events could not be appended: event logs and SSE streams stall.',
    });
    this.stepDlq = new DeadLetterQueue(this, 'StepDlq', {
      purpose:
        'agent steps of heartbeat agents whose invocation failed before reporting (crash, Lambda timeout, event expired); each job fails with step_timeout once heartbeats stop.',
    });
    this.webhooks = new WebhookDelivery(this, 'Webhooks', {
      jobs: this.jobs,
      retrySchedule: this.config.webhookRetrySchedule,
      logRetention,
    });
    this.workflow = new JobWorkflow(this, 'Workflow', {
      jobs: this.jobs,
      jobDlq: this.jobDlq.queue,
      stepDlq: this.stepDlq.queue,
      logRetention,
      defaultLimits: this.config.defaultLimits,
    });
    const stateMachine = this.workflow.stateMachine;
    this.streamConsumer = new JobStreamConsumer(this, 'JobStream', {
      jobs: this.jobs,
      stateMachine,
      startDlq: this.startDlq.queue,
      logRetention,
      defaultLimits: this.config.defaultLimits,
    });
    this.eventsConsumer = new JobEventsConsumer(this, 'JobEvents', {
      jobs: this.jobs,
      eventsDlq: this.eventsDlq.queue,
      webhooks: this.webhooks,
      logRetention,
    });
    this.reconciler = new ExecutionReconciler(this, 'Reconciler', {
      jobs: this.jobs,
      stateMachine,
      jobDlq: this.jobDlq.queue,
      logRetention,
    });
    this.sweeper = new JobSweeper(this, 'Sweeper', {
      jobs: this.jobs,
      stateMachine,
      jobDlq: this.jobDlq.queue,
      webhooks: this.webhooks,
      logRetention,
      defaultLimits: this.config.defaultLimits,
    });
    this.api = new JobsApi(this, 'Api', {
      jobs: this.jobs,
      stateMachine,
      webhooks: this.webhooks,
      throttling: this.config.apiThrottling,
      publicThrottling: this.config.publicThrottling,
      reservedConcurrency: this.config.reservedConcurrency,
      defaultLimits: this.config.defaultLimits,
      logRetention,
    });
    const tenancyAdmin = this.jobs.tenancyAdminPolicy(this, 'TenancyAdminPolicy');
    this.model = new ModelAccess(this, 'Model', this.config.modelProvider);
    this.model.bindInvoke(this.workflow.agentStep.function);
    this.model.bindReadiness(this.api.handler('health-ready').function);
    for (const name of ['create-job', 'list-agents', 'get-agent'])
      this.model.bindConfig(this.api.handler(name).function);
    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url });
    new CfnOutput(this, 'TableName', { value: this.jobs.table.tableName });
    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'JobDlqUrl', { value: this.jobDlq.queue.queueUrl });
    new CfnOutput(this, 'StartDlqUrl', { value: this.startDlq.queue.queueUrl });
    new CfnOutput(this, 'StepDlqUrl', { value: this.stepDlq.queue.queueUrl });
    new CfnOutput(this, 'WebhookDlqUrl', { value: this.webhooks.dlq.queue.queueUrl });
    new CfnOutput(this, 'WebhookSecretsPrefix', { value: this.webhooks.secretsPrefix });
    new CfnOutput(this, 'TenancyAdminPolicyArn', { value: tenancyAdmin.managedPolicyArn });
    new CfnOutput(this, 'DefaultLimits', { value: JSON.stringify(this.config.defaultLimits) });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmNotifications.topic.topicArn });
  }
}
