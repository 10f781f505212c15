import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ExecutionStatusChange,
  LocalStepFunctions,
  STATUS_CHANGE_EVENT,
} from '../../../lambdas/local/stepfunctions-local.js';
import { type AslDefinition, type LambdaHandler, mapTasks } from '../../../lambdas/local/task-handlers.js';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Tiny';
const WORK_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:Work';
const SLOW_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:Slow';

const definition: AslDefinition & Record<string, unknown> = {
  StartAt: 'Route',
  States: {
    Route: {
      Type: 'Choice',
      Choices: [{ Variable: '$.mode', StringEquals: 'slow', Next: 'Slow' }],
      Default: 'Work',
    } as never,
    Work: {
      Type: 'Task',
      Resource: WORK_ARN,
      TimeoutSeconds: 30,
      Catch: [{ ErrorEquals: ['BoomError'], ResultPath: '$.failure', Next: 'Recovered' }],
      Next: 'Done',
    } as never,
    Slow: { Type: 'Task', Resource: SLOW_ARN, TimeoutSeconds: 30, End: true } as never,
    Recovered: { Type: 'Pass', End: true } as never,
    Done: { Type: 'Pass', Parameters: { 'out.$': '$.v', 'name.$': '$$.Execution.Name' }, End: true } as never,
  },
};

/** Executions wait on a gate the test opens, so "still running" never depends on timing. */
const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
const gate = (name: string) => {
  let resolve!: () => void;
  const g = { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
  gates.set(name, g);
  return g;
};

const work: LambdaHandler = async (event) => {
  const input = event as { gate?: string; mode?: string; v?: unknown };
  if (input.gate) await gates.get(input.gate)!.promise;
  if (input.mode === 'boom' || input.mode === 'crash') {
    const err = new Error(`asked to ${input.mode}`);
    err.name = input.mode === 'boom' ? 'BoomError' : 'CrashError';
    throw err;
  }
  return { v: input.v, dropped: undefined };
};
const slow: LambdaHandler = () => new Promise(() => {});

let service: LocalStepFunctions;
let sfn: SFNClient;
const changes: ExecutionStatusChange[] = [];

beforeAll(async () => {
  service = new LocalStepFunctions({
    stateMachineArn: ARN,
    definition,
    taskHandlers: mapTasks(definition, {
      lambdaTasks: { Work: 'work', Slow: 'slow' },
      loadHandler: async (file) => (file === 'work' ? work : slow),
      functionTimeouts: { [WORK_ARN]: 30, [SLOW_ARN]: 0.05 },
      dynamodb: undefined as never,
      sqs: undefined as never,
    }),
  });
  service.statusChanges.on(STATUS_CHANGE_EVENT, (c: ExecutionStatusChange) => changes.push(c));
  const endpoint = await service.listen();
  sfn = new SFNClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  sfn.destroy();
  await service.close();
});

const start = (name: string, input: Record<string, unknown>) =>
  sfn.send(
    new StartExecutionCommand({
      stateMachineArn: ARN,
      name,
      input: JSON.stringify({ mode: 'work', ...input }),
    }),
  );

describe('LocalStepFunctions over the AWS JSON protocol', () => {
  it('answers a repeated StartExecution of a running execution with the same response', async () => {
    const g = gate('same');
    const first = await start('same-1', { gate: 'same', v: 1 });
    const again = await start('same-1', { gate: 'same', v: 1 });
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);
    expect(first.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:Tiny:same-1');
    g.resolve();
    const done = await service.settled(first.executionArn!);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ out: 1, name: 'same-1' });
  });

  it('refuses the same name with another input, or once the execution has finished', async () => {
    const g = gate('dup');
    const { executionArn } = await start('dup-1', { gate: 'dup', v: 1 });
    await expect(start('dup-1', { gate: 'dup', v: 2 })).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    g.resolve();
    await service.settled(executionArn!);
    await expect(start('dup-1', { gate: 'dup', v: 1 })).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('stops a running execution and announces it as ABORTED', async () => {
    gate('stop');
    const { executionArn } = await start('stop-1', { gate: 'stop' });
    const stopped = await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'Cancelled', cause: 'by test' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    await service.settled(executionArn!);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'by test' });
    expect(changes.filter((c) => c.executionArn === executionArn).map((c) => c.status)).toEqual([
      'RUNNING',
      'ABORTED',
    ]);
  });

  it('reports unknown executions and state machines as AWS does', async () => {
    const missing = `${ARN.replace(':stateMachine:', ':execution:')}:nope`;
    await expect(sfn.send(new StopExecutionCommand({ executionArn: missing }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn: missing }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: `${ARN}x`, name: 'x' })),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
  });

  it('lets Catch match a task error by its name, with the Lambda error document as Cause', async () => {
    const { executionArn } = await start('boom-1', { mode: 'boom' });
    const done = await service.settled(executionArn!);
    const output = JSON.parse(done.output!);
    expect(output.failure.Error).toBe('BoomError');
    expect(JSON.parse(output.failure.Cause)).toMatchObject({
      errorType: 'BoomError',
      errorMessage: 'asked to boom',
    });
  });

  it('fails the execution with the uncaught error', async () => {
    const { executionArn } = await start('crash-1', { mode: 'crash' });
    const done = await service.settled(executionArn!);
    expect(done).toMatchObject({ status: 'FAILED', error: 'CrashError' });
    expect(changes.find((c) => c.executionArn === executionArn && c.status === 'FAILED')?.error).toBe(
      'CrashError',
    );
  });

  it('ends an invocation at the function timeout as Lambda does', async () => {
    const { executionArn } = await start('slow-1', { mode: 'slow' });
    const done = await service.settled(executionArn!);
    expect(done).toMatchObject({ status: 'FAILED', error: 'Sandbox.Timedout' });
  });

  it('keeps an AWS-shaped history', async () => {
    const { executionArn } = await start('history-1', { v: 'h' });
    await service.settled(executionArn!);
    const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events!.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'TaskStateEntered',
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events!.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events![3]!.stateEnteredEventDetails?.name).toBe('Work');
  });

  it('lists executions newest first and describes the state machine', async () => {
    const { executions } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'SUCCEEDED' }),
    );
    expect(executions![0]!.name).toBe('history-1');
    const machine = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: ARN }));
    expect(machine).toMatchObject({ status: 'ACTIVE', type: 'STANDARD', name: 'Tiny' });
    expect(JSON.parse(machine.definition!).StartAt).toBe('Route');
  });
});

describe('LocalStepFunctions callback tasks', () => {
  const CALLBACK_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Callback';
  const callbackDefinition: AslDefinition & Record<string, unknown> = {
    StartAt: 'Wait',
    States: {
      Wait: {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken',
        Parameters: { 'token.$': '$$.Task.Token', 'name.$': '$$.Execution.Name' },
        TimeoutSecondsPath: '$.timeout',
        HeartbeatSeconds: 1,
        Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.failure', Next: 'Stalled' }],
        End: true,
      } as never,
      Stalled: { Type: 'Pass', End: true } as never,
    },
  };
  /** The token each execution's Wait task was given, by execution name. */
  const issued = new Map<string, (token: string) => void>();
  const tokenOf = (name: string) => new Promise<string>((resolve) => issued.set(name, resolve));
  let callbacks: LocalStepFunctions;
  let client: SFNClient;

  beforeAll(async () => {
    callbacks = new LocalStepFunctions({
      stateMachineArn: CALLBACK_ARN,
      definition: callbackDefinition,
      taskHandlers: {
        Wait: async ({ input }) => {
          const { token, name } = input as { token: string; name: string };
          issued.get(name)?.(token);
          return {};
        },
      },
    });
    client = new SFNClient({
      endpoint: await callbacks.listen(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
  });

  afterAll(async () => {
    client.destroy();
    await callbacks.close();
  });

  const run = async (name: string) => {
    const token = tokenOf(name);
    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: CALLBACK_ARN,
        name,
        input: JSON.stringify({ timeout: 60 }),
      }),
    );
    return { executionArn: executionArn!, token: await token };
  };

  it('resumes the waiting task with the SendTaskSuccess output; a second answer finds it closed', async () => {
    const { executionArn, token } = await run('answered');
    expect(await client.send(new SendTaskHeartbeatCommand({ taskToken: token }))).toBeDefined();
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"answer":42}' }));
    const done = await callbacks.settled(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ answer: 42 });
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toBeInstanceOf(TaskTimedOut);
  });

  it('fails the task with the SendTaskFailure error', async () => {
    const { executionArn, token } = await run('refused');
    await client.send(new SendTaskFailureCommand({ taskToken: token, error: 'Refused', cause: 'no' }));
    const done = await callbacks.settled(executionArn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'Refused', cause: 'no' });
  });

  it('enforces HeartbeatSeconds, which the runner ignores: States.HeartbeatTimeout is caught', async () => {
    const { executionArn } = await run('stalled');
    const done = await callbacks.settled(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!).failure).toMatchObject({ Error: 'States.HeartbeatTimeout' });
  });

  it('answers TaskDoesNotExist for a token it never issued', async () => {
    await expect(
      client.send(new SendTaskHeartbeatCommand({ taskToken: 'local-task-token:unknown' })),
    ).rejects.toBeInstanceOf(TaskDoesNotExist);
  });
});

describe('LocalStepFunctions Lambda callback tasks invoked asynchronously', () => {
  const MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Beats';
  const STEP_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:Step';
  const QUEUE_URL = 'http://sqs.local/000000000000/StepDlq';
  const beatsDefinition: AslDefinition & Record<string, unknown> = {
    StartAt: 'Step',
    States: {
      Step: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: {
          FunctionName: STEP_ARN,
          InvocationType: 'Event',
          Payload: { 'mode.$': '$.mode', 'token.$': '$$.Task.Token' },
        },
        TimeoutSeconds: 30,
        HeartbeatSecondsPath: '$.heartbeatSeconds',
        Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.failure', Next: 'Stalled' }],
        End: true,
      } as never,
      Stalled: { Type: 'Pass', End: true } as never,
    },
  };
  const sqs = new SQSClient({ region: 'us-east-1' });
  const sqsMock = mockClient(sqs);
  let beats: LocalStepFunctions;
  let client: SFNClient;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** The agent-step stand-in: the same handler whatever the form, reporting through the token. */
  const step: LambdaHandler = async (event) => {
    const { mode, token } = event as { mode: string; token: string };
    if (mode === 'crash') throw Object.assign(new Error('crashed'), { name: 'Runtime.ExitError' });
    if (mode === 'silent') {
      await pause(3_000);
      return {};
    }
    // Beats every 100 ms through a step of 2.5 heartbeat timeouts, then reports.
    for (let i = 0; i < 25; i++) {
      await client.send(new SendTaskHeartbeatCommand({ taskToken: token }));
      await pause(100);
    }
    await client.send(
      new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ beats: 25 }) }),
    );
    return { ignored: true };
  };

  beforeAll(async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    beats = new LocalStepFunctions({
      stateMachineArn: MACHINE_ARN,
      definition: beatsDefinition,
      taskHandlers: mapTasks(beatsDefinition, {
        lambdaTasks: { Step: 'step' },
        loadHandler: async () => step,
        functionTimeouts: { [STEP_ARN]: 30 },
        asyncInvokeConfigs: { [STEP_ARN]: { maximumRetryAttempts: 0, onFailureQueueUrl: QUEUE_URL } },
        dynamodb: undefined as never,
        sqs,
      }),
    });
    client = new SFNClient({
      endpoint: await beats.listen(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
  });

  afterAll(async () => {
    client.destroy();
    await beats.close();
  });

  const run = async (name: string, mode: string) => {
    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: MACHINE_ARN,
        name,
        input: JSON.stringify({ mode, heartbeatSeconds: 1 }),
      }),
    );
    return beats.settled(executionArn!);
  };

  it('hands the function a task token and takes the SendTaskSuccess output as the result, heartbeats keeping it alive', async () => {
    const done = await run('beating', 'beat');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ beats: 25 });
  });

  it('enforces the HeartbeatSecondsPath of the state input: a silent step fails with States.HeartbeatTimeout', async () => {
    const done = await run('silent', 'silent');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!).failure).toMatchObject({ Error: 'States.HeartbeatTimeout' });
  });

  it('records a crashed invocation at the function’s on-failure destination; the task then times out on heartbeats', async () => {
    const done = await run('crashing', 'crash');
    expect(JSON.parse(done.output!).failure).toMatchObject({ Error: 'States.HeartbeatTimeout' });
    const records = sqsMock
      .commandCalls(SendMessageCommand)
      .map(
        (c) =>
          JSON.parse(c.args[0].input.MessageBody!) as { requestPayload: { mode: string; token: string } },
      );
    expect(records).toEqual([
      expect.objectContaining({
        requestPayload: { mode: 'crash', token: expect.stringMatching(/^local-task-token:/) },
        responsePayload: expect.objectContaining({ errorType: 'Runtime.ExitError' }),
      }),
    ]);
  });
});

describe('LocalStepFunctions callback tasks nested in Parallel and Map', () => {
  const NESTED_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Nested';
  const callbackTask = (next: Record<string, unknown>) => ({
    Type: 'Task',
    Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken',
    Parameters: { 'token.$': '$$.Task.Token' },
    TimeoutSeconds: 60,
    ...next,
  });
  const nestedDefinition: AslDefinition & Record<string, unknown> = {
    StartAt: 'Both',
    States: {
      Both: {
        Type: 'Parallel',
        Branches: [{ StartAt: 'InBranch', States: { InBranch: callbackTask({ End: true }) } }],
        ResultPath: '$.branches',
        Next: 'Each',
      } as never,
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemProcessor: { StartAt: 'InMap', States: { InMap: callbackTask({ End: true }) } },
        ResultPath: '$.items',
        End: true,
      } as never,
    },
  };
  const tokens: string[] = [];
  let nested: LocalStepFunctions;
  let client: SFNClient;

  beforeAll(async () => {
    const park = async ({ input }: { input: unknown }) => {
      tokens.push((input as { token: string }).token);
      return {};
    };
    nested = new LocalStepFunctions({
      stateMachineArn: NESTED_ARN,
      definition: nestedDefinition,
      taskHandlers: { InBranch: park, InMap: park },
    });
    client = new SFNClient({
      endpoint: await nested.listen(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
  });

  afterAll(async () => {
    client.destroy();
    await nested.close();
  });

  /** Answers each token as it is issued, until `count` have been. */
  async function answerTokens(count: number) {
    for (let answered = 0; answered < count;) {
      const token = tokens[answered];
      if (!token) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      await client.send(
        new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ answered }) }),
      );
      answered++;
    }
  }

  it('gives each one a task token and waits for its answer', async () => {
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: NESTED_ARN, name: 'nested', input: '{"items":[1]}' }),
    );
    await answerTokens(2);
    const done = await nested.settled(executionArn!);
    expect(tokens.every((t) => t.startsWith('local-task-token:'))).toBe(true);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output!)).toEqual({ branches: [{ answered: 0 }], items: [{ answered: 1 }] });
  });
});
