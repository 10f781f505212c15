import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { type AsyncInvokeConfig, invokeAsynchronously } from './async-invoke.js';
import { lambdaContext } from './lambda-context.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface TaskCall {
  readonly input: Json;
  /** Aborted when the execution is stopped; the task should give up its work. */
  readonly signal: AbortSignal;
}

export type TaskHandler = (call: TaskCall) => Promise<Json>;

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface TaskState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  HeartbeatSecondsPath?: string;
  Branches?: AslDefinition[];
  Iterator?: AslDefinition;
  ItemProcessor?: AslDefinition;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, TaskState>;
}

export interface TaskMappingOptions {
  /** Task state name -> handler file, for Lambda-backed tasks. */
  lambdaTasks: Record<string, string>;
  loadHandler: (file: string) => Promise<LambdaHandler>;
  /** The function's own Timeout (seconds) by function ARN, from the template. */
  functionTimeouts: Record<string, number>;
  /** Asynchronous-invocation settings by function ARN, from the template's EventInvokeConfigs. */
  asyncInvokeConfigs?: Record<string, AsyncInvokeConfig>;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
}

/**
 * One local implementation per Task state of the definition, nested Parallel and Map states included
 * (aws-local-stepfunctions overrides Tasks by state name, never by resource).
 */
export function mapTasks(
  definition: AslDefinition,
  options: TaskMappingOptions,
): Record<string, TaskHandler> {
  const handlers: Record<string, TaskHandler> = {};
  for (const [name, state] of taskStates(definition)) {
    const file = options.lambdaTasks[name];
    handlers[name] = file ? lambdaTask(file, state, options) : sdkTask(name, state.Resource ?? '', options);
  }
  return handlers;
}

function* taskStates(definition: AslDefinition): Generator<[string, TaskState]> {
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Task') yield [name, state];
    for (const nested of [...(state.Branches ?? []), state.Iterator, state.ItemProcessor]) {
      if (nested) yield* taskStates(nested);
    }
  }
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

interface InvokeParameters {
  FunctionName?: string;
  Payload?: Json;
  InvocationType?: 'RequestResponse' | 'Event' | 'DryRun';
}

/**
 * A function ARN as Resource passes the parameters as the event and returns the function's result;
 * the lambda:invoke integration (also as `.waitForTaskToken`) takes {FunctionName, Payload,
 * InvocationType} and wraps the result in {Payload, StatusCode}. An `Event` invocation answers 202
 * at once and runs on its own, as Lambda's asynchronous invocation does.
 */
function lambdaTask(file: string, state: TaskState, options: TaskMappingOptions): TaskHandler {
  const viaIntegration = state.Resource?.replace(CALLBACK_SUFFIX, '') === LAMBDA_INVOKE;
  return async ({ input, signal }) => {
    signal.throwIfAborted();
    const params = viaIntegration ? (input as InvokeParameters) : {};
    const functionArn = String(viaIntegration ? params.FunctionName : state.Resource);
    // Lambda ends the invocation at the function's Timeout, whatever the Task allows.
    const timeoutMs = (options.functionTimeouts[functionArn] ?? LAMBDA_DEFAULT_TIMEOUT_SECONDS) * 1000;
    const handler = await options.loadHandler(file);
    const event = viaIntegration ? (params.Payload ?? null) : input;
    const invoke = async () => {
      const context = lambdaContext(functionArn.split(':').pop()!, timeoutMs);
      return toJson(await withDeadline(handler(event, context), timeoutMs, context.awsRequestId));
    };
    if (params.InvocationType === 'Event') {
      const config = options.asyncInvokeConfigs?.[functionArn];
      void invokeAsynchronously(invoke, { functionArn, event, config }, options.sqs);
      return { Payload: '', StatusCode: 202 };
    }
    let result: Json;
    try {
      result = await invoke();
    } catch (e) {
      throw lambdaError(e);
    }
    return viaIntegration ? { ExecutedVersion: '$LATEST', Payload: result, StatusCode: 200 } : result;
  };
}

const LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3;

/** What Step Functions sees when Lambda kills an invocation at its timeout (the handler itself runs on here). */
async function withDeadline<T>(work: Promise<T>, timeoutMs: number, requestId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(
        `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
      );
      err.name = 'Sandbox.Timedout';
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The function's result crosses a JSON boundary in Lambda: undefined fields vanish, dates become strings. */
function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}

/**
 * Step Functions reports a failed Lambda task with the error's name as Error and the Lambda error
 * document as Cause; Retry and Catch match on the name. No `cause` property: the runner would
 * prefer it over the message.
 */
export function lambdaError(e: unknown): Error {
  const original = e instanceof Error ? e : new Error(String(e));
  const err = new Error(
    JSON.stringify({
      errorType: original.name,
      errorMessage: original.message,
      trace: original.stack?.split('\n') ?? [],
    }),
  );
  err.name = original.name;
  return err;
}

type SdkCall = (
  params: Record<string, unknown>,
  options: TaskMappingOptions,
  signal: AbortSignal,
) => Promise<unknown>;

type CommandClass = new (input: never) => object;

/** A DynamoDB call made with the workflow's parameters as the SDK input, as they are. */
const dynamodb = (Command: CommandClass, service = 'DynamoDB'): { service: string; call: SdkCall } => ({
  service,
  call: (p, o, abortSignal) => o.dynamodb.send(new Command(p as never) as never, { abortSignal }),
});

/** Service integrations the workflow may use. */
const SDK_INTEGRATIONS: Record<string, { service: string; call: SdkCall }> = {
  'arn:aws:states:::dynamodb:getItem': dynamodb(GetItemCommand),
  'arn:aws:states:::dynamodb:putItem': dynamodb(PutItemCommand),
  'arn:aws:states:::dynamodb:updateItem': dynamodb(UpdateItemCommand),
  'arn:aws:states:::dynamodb:deleteItem': dynamodb(DeleteItemCommand),
  // The AWS SDK integration: same call, errors prefixed with the SDK's service name.
  'arn:aws:states:::aws-sdk:dynamodb:updateItem': dynamodb(UpdateItemCommand, 'DynamoDb'),
  'arn:aws:states:::sqs:sendMessage': {
    service: 'SQS',
    call: (p, o, abortSignal) => o.sqs.send(new SendMessageCommand(p as never), { abortSignal }),
  },
};

/** A callback task (`.waitForTaskToken`) makes the same call; the local service then awaits the token. */
export const CALLBACK_SUFFIX = '.waitForTaskToken';

function sdkTask(stateName: string, resource: string, options: TaskMappingOptions): TaskHandler {
  const integration = SDK_INTEGRATIONS[resource.replace(CALLBACK_SUFFIX, '')];
  if (!integration) {
    throw new Error(
      `Task ${stateName}: no local handler for resource ${resource} (add it to LAMBDA_TASKS or the SDK integrations)`,
    );
  }
  return async ({ input, signal }) => {
    try {
      const { $metadata: _, ...output } = (await integration.call(
        input as Record<string, unknown>,
        options,
        signal,
      )) as {
        $metadata: unknown;
      };
      return toJson(output);
    } catch (e) {
      throw serviceError(integration.service, e);
    }
  };
}

/** Step Functions prefixes integration errors with the service, e.g. DynamoDB.ConditionalCheckFailedException. */
export function serviceError(service: string, e: unknown): Error {
  const original = e instanceof Error ? e : new Error(String(e));
  const err = new Error(original.message);
  err.name = original.name.startsWith(`${service}.`) ? original.name : `${service}.${original.name}`;
  return err;
}
