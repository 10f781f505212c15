import { describe, expect, it } from 'vitest';
import { maxJobTimeoutSeconds, maxStepTimeoutSeconds } from '../../lambdas/agents/catalog.js';
import {
  EXECUTION_TIMEOUT_MARGIN_SECONDS,
  LAMBDA_TASKS,
  WORKFLOW_STATES as S,
  STEP_TIMEOUT_MARGIN_SECONDS,
  TRANSIENT_STEP_ERROR,
} from '../../lambdas/config/workflow.js';
import { type AslState, aslLintViolations, stateMachineDefinition } from '../../lib/workflows/asl.js';
import { handlerFunctions, logicalId, roleStatements, synth } from './support.js';

const { stack, json, template, asl } = synth();
const states = asl.States;

function state(name: string): AslState {
  const s = states[name];
  if (!s) throw new Error(`no state ${name}`);
  return s;
}

type Retrier = {
  ErrorEquals: string[];
  JitterStrategy?: string;
  IntervalSeconds?: number;
  MaxAttempts?: number;
};
type Catcher = { ErrorEquals: string[]; Next: string; ResultPath?: string | null };

const retries = (name: string) => (state(name).Retry ?? []) as Retrier[];
const catches = (name: string) => (state(name).Catch ?? []) as Catcher[];

describe('job workflow definition', () => {
  it('has exactly the shared state names, starting at MarkRunning', () => {
    expect(Object.keys(states).sort()).toEqual(Object.values(S).sort());
    expect(asl.StartAt).toBe(S.markRunning);
  });

  it('has the expected state types', () => {
    const types = Object.fromEntries(Object.entries(states).map(([name, s]) => [name, s.Type]));
    expect(types).toEqual({
      [S.markRunning]: 'Task',
      [S.agentStep]: 'Task',
      [S.agentStepWithHeartbeat]: 'Task',
      [S.routeOutcome]: 'Choice',
      [S.waitBeforeRetry]: 'Wait',
      [S.waitForInput]: 'Task',
      [S.inputTimedOut]: 'Pass',
      [S.markFailed]: 'Task',
      [S.failedHere]: 'Choice',
      [S.sendToJobDlq]: 'Task',
      [S.jobSucceeded]: 'Succeed',
      [S.jobSettled]: 'Succeed',
      [S.jobFailed]: 'Fail',
    });
  });

  it('MarkRunning conditionally sets running on the job item and discards the result', () => {
    expect(state(S.markRunning)).toMatchObject({
      Resource: 'arn:<Ref:AWS::Partition>:states:::dynamodb:updateItem',
      ResultPath: null,
      Next: S.agentStep,
      Parameters: {
        TableName: `<Ref:${logicalId(stack.jobs.table)}>`,
        Key: { PK: { 'S.$': '$.pk' }, SK: { S: 'JOB' } },
        UpdateExpression:
          'SET #status = :running, startedAt = if_not_exists(startedAt, :now), updatedAt = :now, ' +
          'eventSeq = if_not_exists(eventSeq, :noEvents) + :eventCount, lastEventTypes = :eventTypes',
        ConditionExpression: '#status IN (:from0, :from1)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': { S: 'running' },
          ':from0': { S: 'pending' },
          ':from1': { S: 'running' },
          ':now': { 'S.$': '$$.Execution.StartTime' },
          ':noEvents': { N: '0' },
          ':eventCount': { N: '1' },
          ':eventTypes': { L: [{ S: 'job.running' }] },
        },
      },
    });
  });

  it('MarkRunning settles a job cancelled before it started and fails on anything else', () => {
    expect(catches(S.markRunning)).toEqual([
      { ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: null, Next: S.jobSettled },
      { ErrorEquals: ['States.DataLimitExceeded'], ResultPath: '$.failure', Next: S.markFailed },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: S.markFailed },
    ]);
    expect(retries(S.markRunning)[0]?.ErrorEquals).toContain('DynamoDB.ThrottlingException');
  });

  it('AgentStep invokes the agent-step function directly with tenant and job id', () => {
    expect(state(S.agentStep)).toMatchObject({
      Resource: `<GetAtt:${logicalId(stack.workflow.agentStep.function)}.Arn>`,
      Parameters: { 'tenant.$': '$.tenant', 'jobId.$': '$.jobId' },
      ResultPath: '$.step',
      Next: S.routeOutcome,
      TimeoutSeconds: maxStepTimeoutSeconds() + STEP_TIMEOUT_MARGIN_SECONDS,
    });
  });

  it.each([S.agentStep, S.agentStepWithHeartbeat])(
    '%s retries only Lambda service errors and transient step errors, with backoff',
    (name) => {
      expect(retries(name)).toEqual([
        {
          ErrorEquals: [
            'Lambda.ServiceException',
            'Lambda.AWSLambdaException',
            'Lambda.SdkClientException',
            'Lambda.TooManyRequestsException',
            TRANSIENT_STEP_ERROR,
          ],
          IntervalSeconds: 2,
          MaxAttempts: 4,
          BackoffRate: 2,
          MaxDelaySeconds: 30,
          JitterStrategy: 'FULL',
        },
      ]);
      expect(catches(name)).toEqual([
        { ErrorEquals: ['States.DataLimitExceeded'], ResultPath: '$.failure', Next: S.markFailed },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: S.markFailed },
      ]);
    },
  );

  it('AgentStepWithHeartbeat invokes the same function asynchronously with a task token, bounded by the heartbeat the step result names', () => {
    expect(state(S.agentStepWithHeartbeat)).toEqual(
      expect.objectContaining({
        Resource: 'arn:<Ref:AWS::Partition>:states:::lambda:invoke.waitForTaskToken',
        Parameters: {
          FunctionName: `<GetAtt:${logicalId(stack.workflow.agentStep.function)}.Arn>`,
          InvocationType: 'Event',
          Payload: {
            'tenant.$': '$.tenant',
            'jobId.$': '$.jobId',
            'taskToken.$': '$$.Task.Token',
            'previous.$': '$.step',
          },
        },
        HeartbeatSecondsPath: '$.step.heartbeatSeconds',
        TimeoutSeconds: state(S.agentStep).TimeoutSeconds,
        ResultPath: '$.step',
        Next: S.routeOutcome,
      }),
    );
    expect(state(S.agentStepWithHeartbeat).HeartbeatSeconds).toBeUndefined();
  });

  it('the asynchronous agent-step invocation is never retried by Lambda and fails into the step DLQ', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.workflow.agentStep.function) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.stepDlq.queue), 'Arn'] } },
      },
    });
    const age = Object.values(json.Resources).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig')!
      .Properties.MaximumEventAgeInSeconds as number;
    // Within Lambda's bounds, and long enough for any event whose task may still wait for it.
    expect(age).toBeGreaterThanOrEqual(Math.max(60, state(S.agentStep).TimeoutSeconds as number));
    expect(age).toBeLessThanOrEqual(21_600);
    const queueStatements = roleStatements(json, logicalId(stack.workflow.agentStep.role)).filter((s) =>
      s.actions.some((a) => a.startsWith('sqs:')),
    );
    expect(queueStatements.map((s) => s.resource)).toEqual([
      { 'Fn::GetAtt': [logicalId(stack.stepDlq.queue), 'Arn'] },
    ]);
  });

  it('the AgentStep Task timeout outlasts the agent-step Lambda timeout', () => {
    const fn = json.Resources[logicalId(stack.workflow.agentStep.function)]!;
    expect(fn.Properties.Timeout).toBe(maxStepTimeoutSeconds() + 10);
    expect(state(S.agentStep).TimeoutSeconds).toBeGreaterThan(fn.Properties.Timeout as number);
    expect(fn.Properties.MemorySize).toBe(512);
  });

  it('RouteOutcome loops on continue (in the form the step result asks for), waits on input_required, backs off on retry, succeeds on done, settles on stopped and fails otherwise', () => {
    expect(state(S.routeOutcome)).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.step.outcome', StringEquals: 'continue' },
            { Variable: '$.step.heartbeatSeconds', IsPresent: true },
          ],
          Next: S.agentStepWithHeartbeat,
        },
        { Variable: '$.step.outcome', StringEquals: 'continue', Next: S.agentStep },
        { Variable: '$.step.outcome', StringEquals: 'input_required', Next: S.waitForInput },
        { Variable: '$.step.outcome', StringEquals: 'retry', Next: S.waitBeforeRetry },
        { Variable: '$.step.outcome', StringEquals: 'done', Next: S.jobSucceeded },
        { Variable: '$.step.outcome', StringEquals: 'stopped', Next: S.jobSettled },
      ],
      Default: S.markFailed,
    });
  });

  it('WaitBeforeRetry waits the seconds the step chose (its provider backoff), then runs the step again', () => {
    expect(state(S.waitBeforeRetry)).toEqual({
      Type: 'Wait',
      SecondsPath: '$.step.waitSeconds',
      Next: S.agentStep,
    });
  });

  it('WaitForInput stores its task token on the job item only while it waits, bounded by the step', () => {
    expect(state(S.waitForInput)).toMatchObject({
      Resource: 'arn:<Ref:AWS::Partition>:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken',
      TimeoutSecondsPath: '$.step.inputTimeoutSeconds',
      ResultPath: null,
      Next: S.agentStep,
      Parameters: {
        TableName: `<Ref:${logicalId(stack.jobs.table)}>`,
        Key: { PK: { 'S.$': '$.pk' }, SK: { S: 'JOB' } },
        UpdateExpression: 'SET inputToken = :token',
        ConditionExpression: '#status = :from0',
        ExpressionAttributeValues: {
          ':token': { 'S.$': '$$.Task.Token' },
          ':from0': { S: 'input_required' },
        },
      },
    });
    expect(state(S.waitForInput).TimeoutSeconds).toBeUndefined();
  });

  it('WaitForInput fails a timed-out wait with the code the step chose, and moves on when answered early or cancelled', () => {
    expect(catches(S.waitForInput)).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: S.inputTimedOut },
      { ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'], ResultPath: null, Next: S.agentStep },
      { ErrorEquals: ['States.DataLimitExceeded'], ResultPath: '$.failure', Next: S.markFailed },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: S.markFailed },
    ]);
    expect(state(S.inputTimedOut)).toMatchObject({
      Type: 'Pass',
      Parameters: { outcome: 'failed', error: { 'code.$': '$.step.onInputTimeout' } },
      ResultPath: '$.step',
      Next: S.markFailed,
    });
  });

  it('MarkFailed passes the whole state, and a failure to record goes to the DLQ rather than being lost', () => {
    const markFailed = state(S.markFailed);
    expect(markFailed).toMatchObject({
      Resource: `<GetAtt:${logicalId(stack.workflow.markFailed.function)}.Arn>`,
      ResultPath: '$.markFailed',
      Next: S.failedHere,
    });
    expect(markFailed.Parameters).toBeUndefined();
    expect(markFailed.InputPath).toBeUndefined();
    expect(catches(S.markFailed)).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.markFailedError', Next: S.sendToJobDlq },
    ]);
    expect(retries(S.markFailed)[0]?.ErrorEquals).toContain('Lambda.TooManyRequestsException');
  });

  it('every Task that sends errors to MarkFailed also catches States.DataLimitExceeded there, which States.ALL misses', () => {
    const toMarkFailed = Object.keys(states).filter((name) =>
      catches(name).some((c) => c.Next === S.markFailed && c.ErrorEquals.includes('States.ALL')),
    );
    expect(toMarkFailed.sort()).toEqual(
      [S.agentStep, S.agentStepWithHeartbeat, S.markRunning, S.waitForInput].sort(),
    );
    for (const name of toMarkFailed) {
      const list = catches(name);
      const dataLimit = list.findIndex((c) => c.ErrorEquals.includes('States.DataLimitExceeded'));
      expect(dataLimit, name).toBeGreaterThanOrEqual(0);
      expect(list[dataLimit]).toEqual({
        ErrorEquals: ['States.DataLimitExceeded'],
        ResultPath: '$.failure',
        Next: S.markFailed,
      });
      expect(dataLimit, name).toBeLessThan(list.length - 1);
    }
  });

  it('FailedHere sends only jobs this execution failed to the DLQ', () => {
    expect(state(S.failedHere)).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.markFailed.failed', BooleanEquals: true, Next: S.sendToJobDlq }],
      Default: S.jobSettled,
    });
  });

  it('SendToJobDlq sends the whole state as a JSON string to the job DLQ, then fails the execution', () => {
    expect(state(S.sendToJobDlq)).toMatchObject({
      Resource: 'arn:<Ref:AWS::Partition>:states:::sqs:sendMessage',
      Parameters: {
        QueueUrl: `<Ref:${logicalId(stack.jobDlq.queue)}>`,
        'MessageBody.$': 'States.JsonToString($)',
      },
      Next: S.jobFailed,
    });
    expect(retries(S.sendToJobDlq)).toHaveLength(1);
    expect(state(S.jobFailed)).toEqual({
      Type: 'Fail',
      Error: 'JobFailed',
      Cause: 'the job failed; see the job DLQ message',
    });
  });

  it('every Lambda task maps to the function of the handler the shared table names', () => {
    const functions = handlerFunctions(stack);
    for (const [stateName, handler] of Object.entries(LAMBDA_TASKS)) {
      const s = state(stateName);
      // A function ARN as Resource, or the lambda:invoke integration naming it.
      const target = s.Resource?.toString().includes(':states:::lambda:invoke')
        ? (s.Parameters as { FunctionName?: string }).FunctionName
        : s.Resource;
      expect(target, stateName).toBe(`<GetAtt:${logicalId(functions.get(handler)!.function)}.Arn>`);
    }
  });

  it('every Task has a TimeoutSeconds or TimeoutSecondsPath (the local runner would otherwise impose 60 s)', () => {
    for (const [name, s] of Object.entries(states).filter(([, st]) => st.Type === 'Task')) {
      if (name === S.waitForInput) expect(s.TimeoutSecondsPath, name).toEqual(expect.any(String));
      else expect(s.TimeoutSeconds, name).toBeGreaterThan(0);
    }
  });

  it('every Retry uses full jitter and none retries a timeout', () => {
    const all = Object.values(states).flatMap((s) => (s.Retry ?? []) as Retrier[]);
    expect(all.length).toBeGreaterThan(0);
    for (const r of all) {
      expect(r.JitterStrategy).toBe('FULL');
      expect(r.ErrorEquals).not.toContain('States.Timeout');
      expect(r.ErrorEquals).not.toContain('States.HeartbeatTimeout');
      expect(r.ErrorEquals).not.toContain('States.ALL');
    }
  });

  it('has a top-level timeout beyond the longest job any agent may run', () => {
    expect(asl.TimeoutSeconds).toBe(maxJobTimeoutSeconds() + EXECUTION_TIMEOUT_MARGIN_SECONDS);
  });
});

describe('ASL lint: JSONPath only', () => {
  it('finds nothing in the synthesized definition', () => {
    expect(aslLintViolations(asl)).toEqual([]);
  });

  it('catches JSONata-era fields on states, nested states and the top level, and JSONata strings', () => {
    const bad = {
      QueryLanguage: 'JSONata',
      StartAt: 'A',
      States: {
        A: { Type: 'Pass', Assign: { x: 1 }, Next: 'B' },
        B: { Type: 'Task', Resource: 'arn', Arguments: { a: '{% $states.input %}' }, Output: {}, Next: 'C' },
        C: {
          Type: 'Map',
          ItemProcessor: {
            StartAt: 'D',
            States: { D: { Type: 'Pass', QueryLanguage: 'JSONata', End: true } },
          },
          End: true,
        },
      },
    };
    expect(aslLintViolations(bad)).toEqual([
      '$: field QueryLanguage is not allowed',
      '$.States.A: field Assign is not allowed',
      '$.States.B: field Arguments is not allowed',
      '$.States.B: field Output is not allowed',
      '$.States.C.States.D: field QueryLanguage is not allowed',
      '$.States.B.Arguments.a: JSONata expression "{% $states.input %}"',
    ]);
  });

  it('does not flag JSONPath parameters that merely contain a key named like a field', () => {
    const ok = {
      StartAt: 'A',
      States: { A: { Type: 'Pass', Parameters: { Output: 'x', 'v.$': '$.a' }, End: true } },
    };
    expect(aslLintViolations(ok)).toEqual([]);
  });
});

describe('stateMachineDefinition', () => {
  it('resolves tokens with the given resolver', () => {
    const resolved = stateMachineDefinition(json, (token) => JSON.stringify(token).replace(/"/g, "'"));
    expect(resolved.States[S.agentStep]?.Resource).toBe(
      `{'Fn::GetAtt':['${logicalId(stack.workflow.agentStep.function)}','Arn']}`,
    );
  });

  it('rejects a template without exactly one state machine', () => {
    expect(() => stateMachineDefinition({ Resources: {} })).toThrow(/exactly one state machine/);
  });
});

describe('state machine resource', () => {
  it('is STANDARD, traced, and logs ALL events without execution data', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });

  it('may update items of the jobs table (MarkRunning, WaitForInput) and no other table', () => {
    const role = logicalId(stack.workflow.stateMachine.role);
    const table = logicalId(stack.jobs.table);
    const updates = roleStatements(json, role).filter((s) =>
      s.actions.some((a) => a.startsWith('dynamodb:')),
    );
    expect([...new Set(updates.flatMap((s) => s.actions))]).toEqual(['dynamodb:UpdateItem']);
    // CDK names the table by its Arn attribute or by an ARN built from its name.
    for (const resource of updates.flatMap((s) => [s.resource].flat())) {
      expect(JSON.stringify(resource)).toMatch(new RegExp(`"${table}"`));
    }
  });

  it('lets only the job stream consumer and the sweep (answers) and the agent step (its own task) complete tasks, of this state machine', () => {
    const functions = handlerFunctions(stack);
    const taskActions = /^states:SendTask/;
    const granted = [...functions.entries()]
      .map(([name, fn]) => ({
        name,
        statements: roleStatements(json, logicalId(fn.role)).filter((s) =>
          s.actions.some((a) => taskActions.test(a)),
        ),
      }))
      .filter((f) => f.statements.length > 0);
    expect(granted.map((f) => f.name).sort()).toEqual(['agent-step', 'control-executions', 'sweep-jobs']);
    const sm = { Ref: logicalId(stack.workflow.stateMachine) };
    for (const f of granted) for (const s of f.statements) expect(s.resource, f.name).toEqual(sm);
    const actions = (name: string) =>
      granted
        .find((f) => f.name === name)!
        .statements.flatMap((s) => s.actions)
        .filter((a) => taskActions.test(a))
        .sort();
    expect(actions('control-executions')).toEqual(['states:SendTaskSuccess']);
    expect(actions('sweep-jobs')).toEqual(['states:SendTaskSuccess']);
    expect(actions('agent-step')).toEqual([
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
      'states:SendTaskSuccess',
    ]);
  });

  it('alarms on failed and timed-out executions and on agent-step errors', () => {
    const sm = logicalId(stack.workflow.stateMachine);
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName: metric,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: sm } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack.workflow.agentStep.function) } }],
      Threshold: 0,
    });
  });
});
