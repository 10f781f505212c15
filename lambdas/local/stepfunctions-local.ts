import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { executionArn as arnOfExecution } from '../config/workflow.js';
import { readBody } from './http-util.js';
import {
  type CallbackLimits,
  localizeCallbacks,
  TaskTokens,
  taskContext,
  TokenError,
} from './task-callbacks.js';
import type { AslDefinition, Json, TaskHandler } from './task-handlers.js';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The `detail` of EventBridge's "Step Functions Execution Status Change" event (dates in epoch ms). */
export interface ExecutionStatusChange {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate: number | null;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
}

export const STATUS_CHANGE_EVENT = 'execution-status-change';

export interface LocalStepFunctionsOptions {
  stateMachineArn: string;
  definition: AslDefinition;
  roleArn?: string;
  taskHandlers: Record<string, TaskHandler>;
}

type RunEvent = Awaited<ReturnType<ReturnType<StateMachine['run']>['eventLogs']['next']>>['value'];

interface Execution {
  arn: string;
  name: string;
  input: string;
  startDate: Date;
  stopDate?: Date;
  status: ExecutionStatus;
  output?: string;
  error?: string;
  cause?: string;
  events: NonNullable<RunEvent>[];
  controller: AbortController;
  settled: Promise<void>;
}

/** An error the JSON protocol reports as `{__type, message}` with HTTP 400, which the SDK turns into its exception. */
export class SfnServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

const ERROR_NAMESPACE = 'com.amazonaws.swf.service.v2.model';
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
const MAX_PAGE = 1000;

/**
 * Step Functions for one state machine, over the same AWS JSON 1.0 protocol the real service speaks,
 * so handlers use the ordinary SFNClient. Executions live in memory only.
 */
export class LocalStepFunctions {
  /** Emits STATUS_CHANGE_EVENT with an ExecutionStatusChange, as EventBridge would. */
  readonly statusChanges = new EventEmitter();
  readonly stateMachineArn: string;
  private readonly machine: StateMachine;
  private readonly callbacks: Record<string, CallbackLimits>;
  private readonly tokens = new TaskTokens();
  private readonly executions = new Map<string, Execution>();
  private readonly creationDate = new Date();
  private server?: Server;
  private closing = false;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.stateMachineArn = options.stateMachineArn;
    // Validated once here: building a StateMachine is the expensive part of a run.
    const local = localizeCallbacks(options.definition);
    this.callbacks = local.callbacks;
    this.machine = new StateMachine(local.definition as unknown as StateMachineDefinition, {
      validationOptions: { checkArn: false },
    });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    this.server = server;
    return `http://${host}:${(server.address() as AddressInfo).port}`;
  }

  /** Aborts running executions without announcing them: a restart resumes their jobs. */
  async close(): Promise<void> {
    this.closing = true;
    const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    for (const e of running) e.controller.abort();
    await Promise.all(running.map((e) => e.settled));
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** Resolves once the execution has finished, with what DescribeExecution would say. */
  async settled(executionArn: string) {
    await this.find(executionArn).settled;
    return this.describeExecution({ executionArn });
  }

  startExecution(req: { stateMachineArn?: string; name?: string; input?: string }) {
    this.assertStateMachine(req.stateMachineArn);
    const name = req.name ?? randomUUID();
    if (!NAME_PATTERN.test(name)) throw new SfnServiceError('InvalidName', `Invalid Name: '${name}'`);
    const input = req.input ?? '{}';
    const parsed = parseInput(input);
    const arn = arnOfExecution(this.stateMachineArn, name);
    const existing = this.executions.get(arn);
    if (existing) {
      // The same request again while it runs is a retry, not a second execution.
      if (existing.status === 'RUNNING' && existing.input === input) return startResponse(existing);
      throw new SfnServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const execution = this.run(arn, name, input, parsed);
    return startResponse(execution);
  }

  stopExecution(req: { executionArn?: string; error?: string; cause?: string }) {
    const execution = this.find(req.executionArn);
    if (execution.status === 'RUNNING') {
      execution.error = req.error;
      execution.cause = req.cause;
      execution.controller.abort();
    }
    return { stopDate: epochSeconds(execution.stopDate ?? new Date()) };
  }

  describeExecution(req: { executionArn?: string }) {
    const e = this.find(req.executionArn);
    return {
      ...this.summary(e),
      input: e.input,
      inputDetails: { included: true },
      output: e.output,
      outputDetails: e.output === undefined ? undefined : { included: true },
      error: e.error,
      cause: e.cause,
    };
  }

  listExecutions(req: {
    stateMachineArn?: string;
    statusFilter?: ExecutionStatus;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.assertStateMachine(req.stateMachineArn);
    const all = [...this.executions.values()]
      .filter((e) => !req.statusFilter || e.status === req.statusFilter)
      .reverse();
    const { page, nextToken } = paginate(all, req.maxResults ?? 100, req.nextToken);
    return {
      executions: page.map((e) => this.summary(e)),
      nextToken,
    };
  }

  describeStateMachine(req: { stateMachineArn?: string }) {
    this.assertStateMachine(req.stateMachineArn);
    return {
      stateMachineArn: this.stateMachineArn,
      name: this.stateMachineArn.split(':').pop(),
      status: 'ACTIVE',
      definition: JSON.stringify(this.options.definition),
      roleArn: this.options.roleArn ?? '',
      type: 'STANDARD',
      creationDate: epochSeconds(this.creationDate),
    };
  }

  getExecutionHistory(req: {
    executionArn?: string;
    maxResults?: number;
    nextToken?: string;
    reverseOrder?: boolean;
  }) {
    const execution = this.find(req.executionArn);
    const events = historyEvents(execution, this.options.roleArn);
    const ordered = req.reverseOrder ? events.reverse() : events;
    const { page, nextToken } = paginate(ordered, req.maxResults ?? MAX_PAGE, req.nextToken);
    return { events: page, nextToken };
  }

  /** What DescribeExecution and ListExecutions both say of an execution. */
  private summary(e: Execution) {
    return {
      executionArn: e.arn,
      stateMachineArn: this.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: epochSeconds(e.startDate),
      stopDate: e.stopDate && epochSeconds(e.stopDate),
    };
  }

  private run(arn: string, name: string, input: string, parsed: Json): Execution {
    const controller = new AbortController();
    const startDate = new Date();
    const handlers = Object.fromEntries(
      Object.entries(this.options.taskHandlers).map(([state, fn]) => {
        const { signal } = controller;
        const limits = this.callbacks[state];
        const handler = limits
          ? (taskInput: unknown) =>
              this.tokens.run(limits, taskInput as Json, signal, (params) => fn({ input: params, signal }))
          : (taskInput: unknown) => fn({ input: taskInput as Json, signal });
        return [state, handler];
      }),
    );
    const run = this.machine.run(parsed, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: {
        Execution: {
          Id: arn,
          Name: name,
          StartTime: startDate.toISOString(),
          Input: parsed,
          RoleArn: this.options.roleArn,
        },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineArn.split(':').pop() },
        Task: taskContext(),
      },
    });
    controller.signal.addEventListener('abort', () => run.abort(), { once: true });
    const execution: Execution = {
      arn,
      name,
      input,
      startDate,
      status: 'RUNNING',
      events: [],
      controller,
      settled: Promise.resolve(),
    };
    this.executions.set(arn, execution);
    // The runner closes its event log when the execution ends, so this loop ends with it.
    const collecting = (async () => {
      for await (const event of run.eventLogs) execution.events.push(event);
    })();
    const finishing = run.result.then(
      (output) => this.finish(execution, { status: 'SUCCEEDED', output: JSON.stringify(output) }),
      (error: unknown) => this.finish(execution, outcomeOf(error, execution)),
    );
    execution.settled = Promise.all([collecting, finishing]).then(() => {});
    this.announce(execution);
    return execution;
  }

  private finish(execution: Execution, outcome: Pick<Execution, 'status' | 'output' | 'error' | 'cause'>) {
    Object.assign(execution, outcome, { stopDate: new Date() });
    this.announce(execution);
  }

  private announce(e: Execution) {
    if (this.closing) return;
    const change: ExecutionStatusChange = {
      executionArn: e.arn,
      stateMachineArn: this.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate.getTime(),
      stopDate: e.stopDate?.getTime() ?? null,
      input: e.input,
      output: e.output ?? null,
      error: e.error ?? null,
      cause: e.cause ?? null,
    };
    this.statusChanges.emit(STATUS_CHANGE_EVENT, change);
  }

  private find(executionArn: string | undefined): Execution {
    const execution = executionArn === undefined ? undefined : this.executions.get(executionArn);
    if (!execution)
      throw new SfnServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  private assertStateMachine(arn: string | undefined) {
    if (arn !== this.stateMachineArn) {
      throw new SfnServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    }
  }

  private readonly operations: Record<string, (body: never) => unknown> = {
    StartExecution: (b) => this.startExecution(b),
    StopExecution: (b) => this.stopExecution(b),
    DescribeExecution: (b) => this.describeExecution(b),
    ListExecutions: (b) => this.listExecutions(b),
    DescribeStateMachine: (b) => this.describeStateMachine(b),
    GetExecutionHistory: (b) => this.getExecutionHistory(b),
    SendTaskSuccess: (b: { taskToken?: string; output?: string }) =>
      this.taskResponse(() => this.tokens.succeed(b.taskToken, parseInput(b.output ?? 'null'))),
    SendTaskFailure: (b: { taskToken?: string; error?: string; cause?: string }) =>
      this.taskResponse(() => this.tokens.fail(b.taskToken, b.error, b.cause)),
    SendTaskHeartbeat: (b: { taskToken?: string }) =>
      this.taskResponse(() => this.tokens.heartbeat(b.taskToken)),
  };

  private taskResponse(respond: () => void) {
    try {
      respond();
      return {};
    } catch (e) {
      if (e instanceof TokenError) throw new SfnServiceError(e.type, e.message);
      throw e;
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    try {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
      const handler = this.operations[operation];
      if (req.method !== 'POST' || !handler)
        throw new SfnServiceError('UnknownOperationException', `Unknown operation ${operation}`);
      const text = (await readBody(req)).toString('utf8');
      const body = text ? parseRequest(text) : {};
      reply(res, 200, handler(body as never));
    } catch (e) {
      if (e instanceof SfnServiceError) {
        reply(res, 400, { __type: `${ERROR_NAMESPACE}#${e.type}`, message: e.message }, e.type);
      } else {
        console.error('local Step Functions failed on a request', e);
        reply(res, 500, { __type: 'InternalFailure', message: String(e) }, 'InternalFailure');
      }
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(payload);
}

function parseRequest(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SfnServiceError('SerializationException', 'request body is not JSON');
  }
}

function parseInput(input: string): Json {
  try {
    return JSON.parse(input) as Json;
  } catch {
    throw new SfnServiceError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
  }
}

function startResponse(e: Execution) {
  return { executionArn: e.arn, startDate: epochSeconds(e.startDate) };
}

/** AWS JSON 1.0 carries timestamps as epoch seconds. */
const epochSeconds = (d: Date) => d.getTime() / 1000;

function outcomeOf(
  error: unknown,
  execution: Execution,
): Pick<Execution, 'status' | 'output' | 'error' | 'cause'> {
  if (error instanceof ExecutionAbortedError)
    return { status: 'ABORTED', error: execution.error, cause: execution.cause };
  if (error instanceof ExecutionTimeoutError) return { status: 'TIMED_OUT', error: 'States.Timeout' };
  const failure =
    error instanceof ExecutionError && error.cause instanceof Error ? error.cause : (error as Error);
  return { status: 'FAILED', error: failure.name, cause: failure.message };
}

function paginate<T>(items: T[], maxResults: number, nextToken: string | undefined) {
  const start = nextToken ? Number(nextToken) : 0;
  const limit = maxResults > 0 ? maxResults : MAX_PAGE;
  const page = items.slice(start, start + limit);
  return { page, nextToken: start + limit < items.length ? String(start + limit) : undefined };
}

type HistoryDetails = { type: string } & Record<string, unknown>;

/** The runner's event log, named and shaped like GetExecutionHistory events; runner-only events are left out. */
function historyEvent(event: NonNullable<RunEvent>, roleArn: string | undefined): HistoryDetails | undefined {
  switch (event.type) {
    case 'ExecutionStarted':
      return {
        type: 'ExecutionStarted',
        executionStartedEventDetails: { input: JSON.stringify(event.input), roleArn },
      };
    case 'ExecutionSucceeded':
      return {
        type: 'ExecutionSucceeded',
        executionSucceededEventDetails: { output: JSON.stringify(event.output) },
      };
    case 'ExecutionFailed':
      return {
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: event.Error, cause: String(event.Cause) },
      };
    case 'ExecutionAborted':
      return { type: 'ExecutionAborted', executionAbortedEventDetails: {} };
    case 'ExecutionTimeout':
      return { type: 'ExecutionTimedOut', executionTimedOutEventDetails: {} };
    case 'StateEntered':
      return {
        type: `${event.state.type}StateEntered`,
        stateEnteredEventDetails: { name: event.state.name, input: JSON.stringify(event.state.input) },
      };
    case 'StateExited':
      return {
        type: `${event.state.type}StateExited`,
        stateExitedEventDetails: {
          name: event.state.name,
          output: JSON.stringify(event.state.output ?? null),
        },
      };
    case 'StateFailed':
      return event.state.type === 'Task'
        ? { type: 'TaskFailed', taskFailedEventDetails: { error: event.Error, cause: String(event.Cause) } }
        : undefined;
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      return {
        type: event.type,
        mapIterationEventDetails: { name: event.parentState.name, index: event.index },
      };
    default:
      return undefined;
  }
}

function historyEvents(execution: Execution, roleArn: string | undefined) {
  const mapped = execution.events
    .map((event) => ({ event, details: historyEvent(event, roleArn) }))
    .filter((m): m is { event: NonNullable<RunEvent>; details: HistoryDetails } => m.details !== undefined);
  return mapped.map(({ event, details }, i) => ({
    timestamp: event.timestamp / 1000,
    id: i + 1,
    previousEventId: i,
    ...details,
  }));
}
