import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { maxJobTimeoutSeconds, maxStepTimeoutSeconds } from '../../lambdas/agents/catalog.js';
import { ENV } from '../../lambdas/config/env.js';
import { INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { announce, STATUS_NAMES, statusCondition } from '../../lambdas/config/job-writes.js';
import { INPUT_TOKEN_ATTRIBUTE, JOB_SK, TABLE_KEYS } from '../../lambdas/config/table.js';
import {
  DATA_LIMIT_EXCEEDED,
  EXECUTION_TIMEOUT_MARGIN_SECONDS,
  WORKFLOW_STATES as S,
  STEP_TIMEOUT_MARGIN_SECONDS,
  TRANSIENT_STEP_ERROR,
} from '../../lambdas/config/workflow.js';
import { MOVES } from '../../lambdas/domain/job.js';
import type { TenantLimits } from '../../lambdas/domain/tenant-limits.js';
import { ONE_MINUTE_SUM, thresholdAlarm } from '../constructs/alarms.js';
import { HandlerFunction } from '../constructs/handler-function.js';
import type { JobsTable } from '../constructs/jobs-table.js';
import { nagAttRef } from '../constructs/nag-ref.js';

export interface JobWorkflowProps {
  readonly jobs: JobsTable;
  readonly jobDlq: sqs.IQueue;
  /**
   * On-failure destination of the asynchronous agent-step invocations (AgentStepWithHeartbeat):
   * invocations that crashed, timed out or expired before they could report to their task.
   */
  readonly stepDlq: sqs.IQueue;
  readonly logRetention: RetentionDays;
  /** The limits of tenants without their own: the step reads tokensPerMinute from them. */
  readonly defaultLimits: TenantLimits;
}

const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

const DYNAMODB_TRANSIENT_ERRORS = [
  'DynamoDB.ProvisionedThroughputExceededException',
  'DynamoDB.RequestLimitExceeded',
  'DynamoDB.ThrottlingException',
  'DynamoDB.InternalServerErrorException',
];

/** Exponential backoff with full jitter, so retries from many executions do not arrive in lockstep. */
function backoff(errors: string[], maxAttempts = 4): sfn.RetryProps {
  return {
    errors,
    interval: Duration.seconds(2),
    maxAttempts,
    backoffRate: 2,
    maxDelay: Duration.seconds(30),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

/** The same throttling and service errors as raised through the AWS SDK integration (its own prefix). */
const DYNAMODB_SDK_TRANSIENT_ERRORS = DYNAMODB_TRANSIENT_ERRORS.map((e) =>
  e.replace('DynamoDB.', 'DynamoDb.'),
);

const CAUGHT = { resultPath: '$.failure' };

/**
 * Every other error goes to MarkFailed. States.ALL does not match States.DataLimitExceeded (a
 * state's data over the 256 KB payload limit), so it is named first: otherwise the execution
 * would end without the job being settled by the workflow.
 */
function catchEverything<T extends sfn.TaskStateBase>(task: T, markFailed: sfn.IChainable): T {
  task.addCatch(markFailed, { errors: [DATA_LIMIT_EXCEEDED], ...CAUGHT });
  task.addCatch(markFailed, CAUGHT);
  return task;
}

/** Service-integration calls answer in milliseconds; the bound only stops a hung call from idling to the job timeout. */
const SERVICE_CALL_TIMEOUT = sfn.Timeout.duration(Duration.seconds(15));

const MARK_FAILED_FUNCTION_TIMEOUT = Duration.seconds(10);

/** Both forms of the agent step allow the longest agent step plus room for its checkpoint write. */
const stepTaskTimeoutSeconds = () => maxStepTimeoutSeconds() + STEP_TIMEOUT_MARGIN_SECONDS;

/** Plain expression values (strings, numbers, lists of strings) as the DynamoDB tasks take them. */
function attributeValues(
  values: Record<string, string | number | readonly string[]>,
): Record<string, tasks.DynamoAttributeValue> {
  const of = (v: string | number | readonly string[]): tasks.DynamoAttributeValue => {
    if (typeof v === 'string') return tasks.DynamoAttributeValue.fromString(v);
    if (typeof v === 'number') return tasks.DynamoAttributeValue.fromNumber(v);
    return tasks.DynamoAttributeValue.fromList(v.map((s) => tasks.DynamoAttributeValue.fromString(s)));
  };
  return Object.fromEntries(Object.entries(values).map(([name, v]) => [name, of(v)]));
}

/** The least MaximumEventAge Lambda accepts for asynchronous invocations. */
const MIN_EVENT_AGE_SECONDS = 60;

/**
 * Runs a job one agent step at a time. Each step is a separate Lambda invocation that checkpoints
 * to the job item, so a long job never holds a Lambda open and a crash resumes from the last step.
 */
export class JobWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly agentStep: HandlerFunction;
  public readonly markFailed: HandlerFunction;
  public readonly logGroup: LogGroup;
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: JobWorkflowProps) {
    super(scope, id);
    this.agentStep = new HandlerFunction(this, 'AgentStepFunction', {
      handler: INTERNAL_HANDLERS.agentStep,
      logRetention: props.logRetention,
      memorySize: 512,
      // The handler enforces each agent's own step timeout; this leaves room to checkpoint after it.
      timeout: Duration.seconds(maxStepTimeoutSeconds() + 10),
    });
    this.markFailed = new HandlerFunction(this, 'MarkFailedFunction', {
      handler: INTERNAL_HANDLERS.markFailed,
      logRetention: props.logRetention,
      timeout: MARK_FAILED_FUNCTION_TIMEOUT,
    });
    // UpdateItem also covers the step's transaction with its tenant's usage counters, and the
    // token bucket; GetItem the tenant's limits.
    props.jobs.bindTable(this.agentStep.function, ['GetItem', 'UpdateItem']);
    this.agentStep.function.addEnvironment(ENV.defaultLimits, JSON.stringify(props.defaultLimits));
    props.jobs.bindValues(this.agentStep.function, 'readWrite');
    props.jobs.bindTable(this.markFailed.function, ['UpdateItem']);
    this.agentStep.function.configureAsyncInvoke({
      // A crashed step is not run again behind the workflow's back: its task fails at the heartbeat
      // timeout and the workflow's Retry and Catch decide, as for every other step failure.
      retryAttempts: 0,
      // An event Lambda held back (throttling) longer than a step may run belongs to a task that
      // has ended; it goes to the DLQ rather than running late.
      maxEventAge: Duration.seconds(Math.max(MIN_EVENT_AGE_SECONDS, stepTaskTimeoutSeconds())),
      onFailure: new SqsDestination(props.stepDlq),
    });
    this.logGroup = new LogGroup(this, 'Logs', {
      // The vended-logs prefix keeps Step Functions off the account's 5 KB log resource-policy limit.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-JobWorkflow`,
      retention: props.logRetention,
      // A retained group with a fixed name would make re-creating the stack fail.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      timeout: Duration.seconds(maxJobTimeoutSeconds() + EXECUTION_TIMEOUT_MARGIN_SECONDS),
      tracingEnabled: true,
      // ALL gives the state-by-state history operators need; execution data stays out of logs
      // because job input and results are tenant data.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.grantStepCallbacks();
    this.alarms = this.createAlarms();
    this.acknowledgeRoleWildcards();
  }

  /**
   * The callback form of the step reports heartbeats and its result for tasks of this state machine
   * only. A policy of its own rather than the role's default policy: the function waits for its
   * default policy, the definition names the function, and this statement names the state
   * machine, so the default policy would close a dependency cycle.
   */
  private grantStepCallbacks(): void {
    new iam.Policy(this, 'AgentStepCallbackPolicy', {
      roles: [this.agentStep.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:SendTaskHeartbeat', 'states:SendTaskSuccess', 'states:SendTaskFailure'],
          resources: [this.stateMachine.stateMachineArn],
        }),
      ],
    });
  }

  private definition(props: JobWorkflowProps): sfn.IChainable {
    const jobSucceeded = new sfn.Succeed(this, S.jobSucceeded);
    const jobSettled = new sfn.Succeed(this, S.jobSettled, {
      comment:
        'Nothing left to do: the job was cancelled, or was already final when this execution tried to fail it.',
    });
    const jobFailed = new sfn.Fail(this, S.jobFailed, {
      error: 'JobFailed',
      cause: 'the job failed; see the job DLQ message',
    });
    const sendToJobDlq = new tasks.SqsSendMessage(this, S.sendToJobDlq, {
      queue: props.jobDlq,
      // Serialized here so the body is a string for the real and the local SQS alike.
      messageBody: sfn.TaskInput.fromText(sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$'))),
      taskTimeout: SERVICE_CALL_TIMEOUT,
    })
      .addRetry(backoff([sfn.Errors.TASKS_FAILED], 6))
      .next(jobFailed);
    const failedHere = new sfn.Choice(this, S.failedHere)
      .when(sfn.Condition.booleanEquals('$.markFailed.failed', true), sendToJobDlq)
      .otherwise(jobSettled);
    const markFailed = new tasks.LambdaInvoke(this, S.markFailed, {
      lambdaFunction: this.markFailed.function,
      // No payload: the Task input, i.e. the whole execution state, is what the handler receives.
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.markFailed',
      taskTimeout: sfn.Timeout.duration(
        MARK_FAILED_FUNCTION_TIMEOUT.plus(Duration.seconds(STEP_TIMEOUT_MARGIN_SECONDS)),
      ),
    })
      .addRetry(backoff(LAMBDA_SERVICE_ERRORS))
      .addCatch(sendToJobDlq, { resultPath: '$.markFailedError' })
      .next(failedHere);
    const stepRetry = backoff([...LAMBDA_SERVICE_ERRORS, TRANSIENT_STEP_ERROR]);
    const agentStep = catchEverything(
      new tasks.LambdaInvoke(this, S.agentStep, {
        lambdaFunction: this.agentStep.function,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          tenant: sfn.JsonPath.stringAt('$.tenant'),
          jobId: sfn.JsonPath.stringAt('$.jobId'),
        }),
        resultPath: '$.step',
        // Our list below is the only retry: a timed-out or failed agent step must not run again.
        retryOnServiceExceptions: false,
        taskTimeout: sfn.Timeout.duration(Duration.seconds(stepTaskTimeoutSeconds())),
      }).addRetry(stepRetry),
      markFailed,
    );
    const agentStepWithHeartbeat = this.agentStepWithHeartbeatTask(stepRetry, markFailed);
    const waitForInput = this.waitForInputTask(props.jobs, agentStep, markFailed);
    // A step that met transient trouble (a model provider throttling) chose how long to back off,
    // honouring the provider's Retry-After: the execution waits, no Lambda is held meanwhile.
    const waitBeforeRetry = new sfn.Wait(this, S.waitBeforeRetry, {
      time: sfn.WaitTime.secondsPath('$.step.waitSeconds'),
    }).next(agentStep);
    // The step form follows the step's result: see agentStepWithHeartbeatTask.
    const routeOutcome = new sfn.Choice(this, S.routeOutcome)
      .when(
        sfn.Condition.and(
          sfn.Condition.stringEquals('$.step.outcome', 'continue'),
          sfn.Condition.isPresent('$.step.heartbeatSeconds'),
        ),
        agentStepWithHeartbeat,
      )
      .when(sfn.Condition.stringEquals('$.step.outcome', 'continue'), agentStep)
      .when(sfn.Condition.stringEquals('$.step.outcome', 'input_required'), waitForInput)
      .when(sfn.Condition.stringEquals('$.step.outcome', 'retry'), waitBeforeRetry)
      .when(sfn.Condition.stringEquals('$.step.outcome', 'done'), jobSucceeded)
      .when(sfn.Condition.stringEquals('$.step.outcome', 'stopped'), jobSettled)
      .otherwise(markFailed);
    agentStepWithHeartbeat.next(routeOutcome);
    const markRunning = catchEverything(
      this.markRunningTask(props.jobs)
        .addRetry(backoff(DYNAMODB_TRANSIENT_ERRORS))
        .addCatch(jobSettled, {
          errors: ['DynamoDB.ConditionalCheckFailedException'],
          resultPath: sfn.JsonPath.DISCARD,
        }),
      markFailed,
    );
    return markRunning.next(agentStep).next(routeOutcome);
  }

  /**
   * The agent step in callback form, for agents with `heartbeatSeconds`: the function is invoked
   * asynchronously with a task token, keeps the task alive with SendTaskHeartbeat while the agent
   * signals liveness, and reports with SendTaskSuccess / SendTaskFailure (the same result and error
   * names AgentStep sees, so Retry and Catch are shared). A step whose heartbeats stop fails with
   * States.HeartbeatTimeout, which MarkFailed records as `step_timeout`.
   *
   * Two forms, chosen per step by RouteOutcome, rather than this one form for every agent:
   * HeartbeatSecondsPath cannot say "no heartbeat", so every agent would need one, and every step of
   * every job would make SendTask* calls, which Step Functions throttles per account with token
   * buckets far smaller than the state-transition one. Agents without heartbeats keep AgentStep
   * exactly as it was: one synchronous invocation whose return value is the result. The handler,
   * which knows the agents, picks the form: a heartbeat agent's step reached through AgentStep (its
   * first step, or the one after an answer) returns `continue` with its `heartbeatSeconds` at once,
   * without running, so the workflow never needs to know agents. That costs one short invocation
   * per job (and per answer), for heartbeat agents only.
   *
   * Asynchronous, because then nothing but the heartbeat clock watches the running step; the
   * invocation's own failures go to the step DLQ (see configureAsyncInvoke above).
   */
  private agentStepWithHeartbeatTask(retry: sfn.RetryProps, markFailed: sfn.IChainable) {
    const task = new tasks.LambdaInvoke(this, S.agentStepWithHeartbeat, {
      lambdaFunction: this.agentStep.function,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      invocationType: tasks.LambdaInvocationType.EVENT,
      payload: sfn.TaskInput.fromObject({
        tenant: sfn.JsonPath.stringAt('$.tenant'),
        jobId: sfn.JsonPath.stringAt('$.jobId'),
        taskToken: sfn.JsonPath.taskToken,
        // What the step before left for this one to start while it reads the job (AgentStepResult.prepare).
        previous: sfn.JsonPath.objectAt('$.step'),
      }),
      resultPath: '$.step',
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(stepTaskTimeoutSeconds())),
      heartbeatTimeout: sfn.Timeout.at('$.step.heartbeatSeconds'),
    }).addRetry(retry);
    return catchEverything(task, markFailed);
  }

  /**
   * Only a job the start move allows (pending, or running again under a resumed execution) may
   * start; a cancelled one settles quietly. Like every write to a job, it advances the event seq and
   * names the event it causes, by the store's own rule (config/job-writes.ts).
   */
  private markRunningTask(jobs: JobsTable): tasks.DynamoUpdateItem {
    const now = tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$$.Execution.StartTime'));
    const from = statusCondition(MOVES.start.from);
    const events = announce('job.running');
    return new tasks.DynamoUpdateItem(this, S.markRunning, {
      table: jobs.table,
      key: {
        [TABLE_KEYS.partition]: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.pk')),
        [TABLE_KEYS.sort]: tasks.DynamoAttributeValue.fromString(JOB_SK),
      },
      updateExpression:
        'SET #status = :running, startedAt = if_not_exists(startedAt, :now), updatedAt = :now, ' +
        events.update,
      conditionExpression: from.condition,
      expressionAttributeNames: STATUS_NAMES,
      expressionAttributeValues: {
        ...attributeValues({ ...from.values, ...events.values, ':running': MOVES.start.to }),
        ':now': now,
      },
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: SERVICE_CALL_TIMEOUT,
    });
  }

  /**
   * Parks the execution until someone answers: the task token goes onto the job item (only while
   * it still waits), and the stream consumer hands it back with SendTaskSuccess once POST /input
   * has recorded the answer. Then the next step runs with the answer.
   */
  private waitForInputTask(
    jobs: JobsTable,
    agentStep: sfn.IChainable,
    markFailed: sfn.IChainable,
  ): sfn.IChainable {
    const inputTimedOut = new sfn.Pass(this, S.inputTimedOut, {
      comment: 'Nobody answered in time: fail the job with the code the step chose for this wait.',
      parameters: {
        outcome: 'failed',
        error: {
          code: sfn.JsonPath.stringAt('$.step.onInputTimeout'),
          message: 'no answer to the input request arrived before the deadline',
        },
      },
      resultPath: '$.step',
    }).next(markFailed);
    const waiting = statusCondition(MOVES.answer.from);
    const wait = new tasks.CallAwsService(this, S.waitForInput, {
      // The optimized DynamoDB integration has no callback pattern; the AWS SDK integration does.
      service: 'dynamodb',
      action: 'updateItem',
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      parameters: {
        TableName: jobs.table.tableName,
        Key: {
          [TABLE_KEYS.partition]: { S: sfn.JsonPath.stringAt('$.pk') },
          [TABLE_KEYS.sort]: { S: JOB_SK },
        },
        UpdateExpression: `SET ${INPUT_TOKEN_ATTRIBUTE} = :token`,
        // Only while the job can be answered: an answer or a cancel that came first wins.
        ConditionExpression: waiting.condition,
        ExpressionAttributeNames: STATUS_NAMES,
        ExpressionAttributeValues: {
          ':token': { S: sfn.JsonPath.taskToken },
          ...Object.fromEntries(Object.entries(waiting.values).map(([name, s]) => [name, { S: s }])),
        },
      },
      iamResources: [jobs.table.tableArn],
      iamAction: 'dynamodb:UpdateItem',
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.at('$.step.inputTimeoutSeconds'),
    })
      .addRetry(backoff(DYNAMODB_SDK_TRANSIENT_ERRORS))
      .addCatch(inputTimedOut, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.failure' })
      // Answered before the token was stored, or cancelled meanwhile: the next step sees which.
      .addCatch(agentStep, {
        errors: ['DynamoDb.ConditionalCheckFailedException'],
        resultPath: sfn.JsonPath.DISCARD,
      });
    return catchEverything(wait, markFailed).next(agentStep);
  }

  private createAlarms(): cloudwatch.Alarm[] {
    return [
      thresholdAlarm(this, 'ExecutionsFailedAlarm', {
        description: 'Job executions failed: each is a failed job whose execution state is in the job DLQ.',
        metric: this.stateMachine.metricFailed(ONE_MINUTE_SUM),
      }),
      thresholdAlarm(this, 'ExecutionsTimedOutAlarm', {
        description:
          'Job workflow executions hit the execution timeout backstop; the job item may be left running.',
        metric: this.stateMachine.metricTimedOut(ONE_MINUTE_SUM),
      }),
      thresholdAlarm(this, 'AgentStepErrorsAlarm', {
        description: 'The agent-step function threw (crash, Lambda timeout or a retried transient error).',
        metric: this.agentStep.function.metricErrors(ONE_MINUTE_SUM),
      }),
    ];
  }

  private acknowledgeRoleWildcards(): void {
    const reasons: Record<string, string> = {
      'Resource::*':
        'X-Ray tracing and CloudWatch Logs delivery (logs:*LogDelivery*, DescribeResourcePolicies) support no resource-level permissions.',
      [`Resource::${nagAttRef(this.agentStep.function)}:*`]:
        'lambda:InvokeFunction on function versions and aliases of the agent-step function, which CDK grants with the unqualified ARN.',
      [`Resource::${nagAttRef(this.markFailed.function)}:*`]:
        'lambda:InvokeFunction on function versions and aliases of the mark-failed function, which CDK grants with the unqualified ARN.',
    };
    for (const [finding, reason] of Object.entries(reasons)) {
      Validations.of(this.stateMachine.role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    }
  }
}
