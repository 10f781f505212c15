import './awslambda.js';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, resolve as resolvePath } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SFNClient } from '@aws-sdk/client-sfn';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import type { AgentDefinition } from '../agents/agent.js';
import type { WebhookSecretStore } from '../adapters/webhook-secrets.js';
import { agentLookup } from '../agents/catalog.js';
import { BUILT_IN_AGENTS, type FindAgent } from '../agents/registry.js';
import { ENV } from '../config/env.js';
import { API_ROUTES, HANDLER_METADATA_KEY, INTERNAL_HANDLERS } from '../config/routes.js';
import type { AsyncInvokeConfig } from './async-invoke.js';
import { EXECUTION_STATUS_CHANGE, LAMBDA_TASKS } from '../config/workflow.js';
import { parseDefaultLimits, type TenantLimits } from '../domain/tenant-limits.js';
import { DEV_TENANT, devApiKey, parseApiKeys, seedApiKeys, type TenantKey } from './api-keys.js';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.js';
import { LOCAL_ENDPOINTS_FILE, type LocalEndpointsFile } from './cli-endpoints.js';
import { compileFilterCriteria, type FilterCriteria } from './filter-criteria.js';
import { createHttpAdapter, listen } from './http-adapter.js';
import { lambdaContext } from './lambda-context.js';
import {
  buildHandlerEnv,
  type LocalEndpoints,
  provisionBuckets,
  provisionQueues,
  provisionTables,
} from './provision.js';
import { requeueInterruptedDeliveries, resumeUnfinishedJobs } from './recovery.js';
import { type SqsLocal, startSqsLocal } from './sqs-local.js';
import { eventSourceMappings, SqsPoller } from './sqs-poller.js';
import {
  type ExecutionStatusChange,
  LocalStepFunctions,
  STATUS_CHANGE_EVENT,
} from './stepfunctions-local.js';
import { stateMachineDefinition } from '../../lib/workflows/asl.js';
import { scheduleIntervalMs } from './schedule.js';
import { StreamPoller } from './stream-poller.js';
import { localWebhookEnv, localWebhookSecrets, seedWebhookSecrets } from './webhooks.js';
import { type AslDefinition, type LambdaHandler, mapTasks } from './task-handlers.js';
import {
  type CfnTemplate,
  createResolver,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  localFunctionArn,
  localQueueArn,
  type Resolver,
  resourcesOfType,
  synthesizeTemplate,
} from './template.js';

export interface LocalStackOptions {
  port?: number;
  host?: string;
  /** Tables, queues, S3 objects, the dev key and stream checkpoints live here (default `.data`). */
  dataDir?: string;
  /** Keep DynamoDB, the queues and S3 in memory: a clean slate per start (tests). */
  inMemory?: boolean;
  /** Extra environment for the handlers and the key bootstrap (AGENT_JOBS_API_KEY(S)). */
  env?: Record<string, string>;
  quiet?: boolean;
  /** Stream consumer retries before the on-failure queue (default: the mapping's, else 8). */
  streamRetryAttempts?: number;
  /**
   * Agents only this run knows (tests: agents that throw, hang or return garbage). Registered after
   * the template is synthesized, so the workflow and its timeouts stay those of the deployment.
   */
  extraAgents?: AgentDefinition[];
}

export interface LocalStack {
  url: string;
  /** The dev tenant's key. */
  apiKey: string;
  /** The dev tenant's webhook signing secret. */
  webhookSecret: string;
  tenantKeys: TenantKey[];
  endpoints: LocalEndpoints;
  tableName: string;
  stateMachineArn: string;
  /** Queue logical id -> queue URL. */
  queues: Record<string, string>;
  /** The environment every handler runs with (tests that invoke a handler themselves use it). */
  handlerEnv: Record<string, string>;
  sfn: LocalStepFunctions;
  /** The client the workflow's DynamoDB tasks send with (the bench counts their requests on it). */
  workflowDynamoDb: DynamoDBClient;
  template: CfnTemplate;
  stop(): Promise<void>;
}

const common = { region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

/** Shutdown order: stop taking requests, then stop producing work, then the services the work used. */
const STOP_ORDER = ['http', 'schedules', 'poller', 'stepFunctions', 'sqs', 'dynamodb'] as const;
type Stops = Partial<Record<(typeof STOP_ORDER)[number], () => Promise<void>>>;

let started = false;

/**
 * Runs the API with the same handlers, ASL and SDK calls as the AWS deployment, against local
 * services. Once per process: handler modules read process.env, endpoints included, when first loaded.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  if (started)
    throw new Error(
      'a local stack was already started in this process; handlers stay bound to its endpoints',
    );
  started = true;
  const stops: Stops = {};
  const stop = once(async () => {
    for (const step of STOP_ORDER) {
      await stops[step]?.().catch((e: unknown) => console.error(`local stack: stopping ${step} failed`, e));
    }
  });
  try {
    return { ...(await start(options, stops)), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function start(options: LocalStackOptions, stops: Stops): Promise<Omit<LocalStack, 'stop'>> {
  const log = options.quiet ? () => {} : (line: string) => console.log(line);
  const env = { ...process.env, ...options.env };
  const dataDir = resolvePath(options.dataDir ?? '.data');
  await mkdir(dataDir, { recursive: true });
  const defaultLimits = parseDefaultLimits(env[ENV.defaultLimits]);
  const tenantKeys = [
    {
      tenant: DEV_TENANT,
      key: await devApiKey(dataDir, env.AGENT_JOBS_API_KEY),
      name: env.AGENT_JOBS_API_KEY ? 'AGENT_JOBS_API_KEY' : 'local development key',
    },
    ...parseApiKeys(env.AGENT_JOBS_API_KEYS),
  ];

  // Bound first so a taken port fails in milliseconds; requests wait until the stack is ready.
  let ready!: () => void;
  const readiness = new Promise<void>((r) => (ready = r));
  const server = createHttpAdapter({ loadHandler: (name) => readiness.then(() => loadHandler(name)) });
  const url = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
  stops.http = () => closeServer(server);

  const [dynamo, sqsLocal, template] = await startInParallel(stops, options, dataDir);
  if (options.extraAgents?.length) {
    local.agents = agentLookup([...BUILT_IN_AGENTS, ...options.extraAgents]);
  }
  local.webhookSecrets = localWebhookSecrets(dataDir);
  const resolve = createResolver(template, {
    queueUrl: (name) => `${sqsLocal.endpoint}/${LOCAL_ACCOUNT_ID}/${name}`,
  });
  const clients = sdkClients(dynamo.endpoint, sqsLocal.endpoint);
  const { sfn, sfnEndpoint } = await startStepFunctions(template, resolve, clients);
  stops.stepFunctions = () => sfn.close();
  const endpoints = {
    dynamodb: dynamo.endpoint,
    sqs: sqsLocal.endpoint,
    s3: sqsLocal.ipEndpoint,
    sfn: sfnEndpoint,
  };

  const [tables, queues] = await Promise.all([
    provisionTables(template, resolve, clients.dynamodb),
    provisionQueues(template, resolve, clients.sqs),
    provisionBuckets(template, new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true })),
  ]);
  const handlerEnv: Record<string, string> = {
    ...buildHandlerEnv(template, resolve, endpoints),
    ...localWebhookEnv(env),
    // The local operator's defaults win over the template's (the stack property's built-in values).
    [ENV.defaultLimits]: JSON.stringify(defaultLimits),
    // Model-call metrics are CloudWatch EMF log lines; locally they would only clutter the output.
    POWERTOOLS_METRICS_DISABLED: env.POWERTOOLS_METRICS_DISABLED ?? 'true',
  } as Record<string, string>;
  Object.assign(process.env, handlerEnv, options.env);
  const tableName = handlerEnv[ENV.tableName] ?? tables[0]!;

  const { DynamoApiKeyStore } = await import('../adapters/dynamo-api-key-store.js');
  const [webhookSecret] = await Promise.all([
    seedWebhookSecrets(
      dataDir,
      tenantKeys.map((k) => k.tenant),
      env.AGENT_JOBS_WEBHOOK_SECRET,
    ),
    seedApiKeys(new DynamoApiKeyStore(tableName), tenantKeys, new Date()),
    preloadHandlers(),
  ]);

  // SQS by IP: the CLI's process has no resolver for the queue URLs' `*.localhost` host.
  await writeCliEndpoints(template, resolve, dataDir, {
    tableName,
    endpoints: { ...endpoints, sqs: sqsLocal.ipEndpoint },
    defaultLimits,
  });
  // Before the pollers: no attempt of this run can hold a lease yet, so every one found is stale.
  const { deliveryStoreFromEnv } = await import('../adapters/dynamo-delivery-store.js');
  const { webhookOutboxFromEnv } = await import('../adapters/webhook-outbox.js');
  const requeued = await requeueInterruptedDeliveries({
    deliveries: deliveryStoreFromEnv(),
    outbox: webhookOutboxFromEnv(),
  });
  if (requeued > 0)
    log(`gave ${requeued} due or interrupted webhook deliver${requeued === 1 ? 'y' : 'ies'} a new message`);
  const pollers = eventSourcePollers(template, resolve, { clients, tableName, queues, dataDir, options });
  await Promise.all(pollers.map((p) => p.start()));
  stops.poller = async () => {
    await Promise.all(pollers.map((p) => p.stop()));
  };
  routeExecutionStatusChanges(template, resolve, sfn);
  stops.schedules = runSchedules(template);
  const { documentClient } = await import('../adapters/dynamo-job-store.js');
  const { WorkflowClient } = await import('../adapters/workflow-client.js');
  const { DynamoJobSlots } = await import('../adapters/dynamo-job-slots.js');
  const workflow = new WorkflowClient(
    sfn.stateMachineArn,
    new SFNClient({ ...common, endpoint: sfnEndpoint }),
  );
  const slots = new DynamoJobSlots(tableName, documentClient);
  const resumed = await resumeUnfinishedJobs({ client: documentClient, tableName, workflow, slots });
  if (resumed > 0) log(`resumed ${resumed} unfinished job(s)`);
  ready();
  return {
    url,
    apiKey: tenantKeys[0]!.key,
    webhookSecret,
    tenantKeys,
    endpoints,
    tableName,
    stateMachineArn: sfn.stateMachineArn,
    queues,
    handlerEnv: { ...handlerEnv, ...options.env },
    sfn,
    workflowDynamoDb: clients.dynamodb,
    template,
  };
}

/** The emulators and the CDK synth are independent and each takes a second or more. */
async function startInParallel(stops: Stops, options: LocalStackOptions, dataDir: string) {
  const results = await Promise.allSettled([
    startDynamoDbLocal({ dataDir, inMemory: options.inMemory }),
    startSqsLocal({ dataDir, inMemory: options.inMemory }),
    synthesizeTemplate(),
  ] as const);
  const [dynamo, sqs, template] = results;
  if (dynamo.status === 'fulfilled') stops.dynamodb = () => dynamo.value.stop();
  if (sqs.status === 'fulfilled') stops.sqs = () => sqs.value.stop();
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return [
    (dynamo as PromiseFulfilledResult<DynamoDbLocal>).value,
    (sqs as PromiseFulfilledResult<SqsLocal>).value,
    (template as PromiseFulfilledResult<CfnTemplate>).value,
  ] as const;
}

type Clients = ReturnType<typeof sdkClients>;

/** The stack's own clients name their endpoints explicitly: they exist before process.env is set. */
function sdkClients(dynamodbEndpoint: string, sqsEndpoint: string) {
  return {
    dynamodb: new DynamoDBClient({ ...common, endpoint: dynamodbEndpoint }),
    streams: new DynamoDBStreamsClient({ ...common, endpoint: dynamodbEndpoint }),
    sqs: new SQSClient({ ...common, endpoint: sqsEndpoint }),
  };
}

async function startStepFunctions(template: CfnTemplate, resolve: Resolver, clients: Clients) {
  const [machine, ...others] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  if (!machine || others.length > 0)
    throw new Error('the local stack expects exactly one state machine in the template');
  const [logicalId, resource] = machine;
  // Only what the local service uses: logging and tracing point at resources with no local stand-in.
  // The definition is read as the construct tests read it, its tokens resolved to the local resources.
  const definition = stateMachineDefinition(template, (token) => String(resolve(token))) as AslDefinition;
  const roleArn = resolve(resource.Properties?.RoleArn) as string | undefined;
  const sfn = new LocalStepFunctions({
    stateMachineArn: resolve({ Ref: logicalId }) as string,
    definition,
    roleArn,
    taskHandlers: mapTasks(definition, {
      lambdaTasks: LAMBDA_TASKS,
      loadHandler,
      functionTimeouts: functionTimeouts(template),
      asyncInvokeConfigs: asyncInvokeConfigs(template, resolve),
      dynamodb: clients.dynamodb,
      sqs: clients.sqs,
    }),
  });
  return { sfn, sfnEndpoint: await sfn.listen() };
}

function functionTimeouts(template: CfnTemplate): Record<string, number> {
  return Object.fromEntries(
    resourcesOfType(template, 'AWS::Lambda::Function')
      .filter(([, fn]) => typeof fn.Properties?.Timeout === 'number')
      .map(([id, fn]) => [localFunctionArn(id), fn.Properties!.Timeout as number]),
  );
}

interface EventInvokeConfigProps {
  FunctionName: { Ref: string };
  MaximumRetryAttempts?: number;
  DestinationConfig?: { OnFailure?: { Destination?: unknown } };
}

/** Each function's asynchronous-invocation settings, by function ARN; a destination must be a queue. */
function asyncInvokeConfigs(template: CfnTemplate, resolve: Resolver): Record<string, AsyncInvokeConfig> {
  const queues = resourcesOfType(template, 'AWS::SQS::Queue').map(([id]) => id);
  return Object.fromEntries(
    resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').map(([id, resource]) => {
      const props = resource.Properties as unknown as EventInvokeConfigProps;
      const destination = resolve(props.DestinationConfig?.OnFailure?.Destination);
      const queue = queues.find((q) => localQueueArn(q) === destination);
      if (destination !== undefined && !queue)
        throw new Error(
          `${id}: on-failure destination ${String(destination)} is not a queue of the template`,
        );
      const config: AsyncInvokeConfig = {
        maximumRetryAttempts: props.MaximumRetryAttempts,
        onFailureQueueUrl: queue && String(resolve({ Ref: queue })),
      };
      return [localFunctionArn(props.FunctionName.Ref), config];
    }),
  );
}

interface EventSourceMappingProps {
  FunctionName: string;
  BatchSize?: number;
  MaximumRetryAttempts?: number;
  BisectBatchOnFunctionError?: boolean;
  FilterCriteria?: FilterCriteria;
  DestinationConfig?: { OnFailure?: { Destination?: string } };
  FunctionResponseTypes?: string[];
  MaximumBatchingWindowInSeconds?: number;
  ScalingConfig?: { MaximumConcurrency?: number };
}

interface PollerContext {
  clients: Clients;
  tableName: string;
  queues: Record<string, string>;
  dataDir: string;
  options: LocalStackOptions;
}

/**
 * One poller per enabled event source mapping of the template, as Lambda runs one reader per
 * mapping: a stream poller with its own filters, retries, on-failure queue and checkpoints, or a
 * queue poller with its own batching, concurrency and batch responses.
 */
function eventSourcePollers(template: CfnTemplate, resolve: Resolver, ctx: PollerContext) {
  const { streams, queues } = eventSourceMappings(template, resolve);
  const props = (properties: Record<string, unknown>) =>
    resolve({ ...properties, EventSourceArn: undefined });
  return [
    ...streams.map((m) => streamPoller(template, props(m.properties), ctx)),
    ...queues.map((m) => sqsPoller(template, props(m.properties), m.queueLogicalId, ctx)),
  ];
}

/** The handler file behind a function of the template, from the metadata HandlerFunction puts on it. */
function handlerOf(template: CfnTemplate, functionLogicalId: string): string {
  const name = template.Resources[functionLogicalId]?.Metadata?.[HANDLER_METADATA_KEY];
  if (typeof name !== 'string') throw new Error(`function ${functionLogicalId} names no handler file`);
  return name;
}

function streamPoller(template: CfnTemplate, resolved: unknown, ctx: PollerContext) {
  const props = resolved as EventSourceMappingProps;
  const handlerName = handlerOf(template, props.FunctionName);
  const destination = props.DestinationConfig?.OnFailure?.Destination;
  const onFailureQueue = Object.keys(ctx.queues).find((id) => localQueueArn(id) === destination);
  if (destination && !onFailureQueue)
    throw new Error(`on-failure destination ${destination} is not a queue of the template`);
  return new StreamPoller({
    ddb: ctx.clients.dynamodb,
    streams: ctx.clients.streams,
    sqs: ctx.clients.sqs,
    tableName: ctx.tableName,
    functionArn: localFunctionArn(props.FunctionName),
    invoke: (event) => invokeStreamHandler(handlerName, event),
    filterCriteria: props.FilterCriteria,
    onFailureQueueUrl: onFailureQueue && ctx.queues[onFailureQueue],
    checkpointFile: ctx.options.inMemory
      ? undefined
      : join(ctx.dataDir, `stream-checkpoints-${handlerName}.json`),
    batchSize: props.BatchSize ?? 100,
    maxRetryAttempts: ctx.options.streamRetryAttempts ?? props.MaximumRetryAttempts ?? 8,
    bisectOnFunctionError: props.BisectBatchOnFunctionError === true,
  });
}

/** Lambda's own timeout for a function that sets none. */
const DEFAULT_FUNCTION_TIMEOUT_S = 3;

function sqsPoller(template: CfnTemplate, resolved: unknown, queueLogicalId: string, ctx: PollerContext) {
  const props = resolved as EventSourceMappingProps;
  const handlerName = handlerOf(template, props.FunctionName);
  const timeoutS =
    functionTimeouts(template)[localFunctionArn(props.FunctionName)] ?? DEFAULT_FUNCTION_TIMEOUT_S;
  return new SqsPoller({
    sqs: ctx.clients.sqs,
    queueUrl: ctx.queues[queueLogicalId]!,
    queueArn: localQueueArn(queueLogicalId),
    functionName: props.FunctionName,
    invoke: (event) => invokeSqsHandler(handlerName, event, timeoutS * 1000),
    timeoutMs: timeoutS * 1000,
    batchSize: props.BatchSize,
    batchingWindowSeconds: props.MaximumBatchingWindowInSeconds,
    reportBatchItemFailures: props.FunctionResponseTypes?.includes('ReportBatchItemFailures') === true,
    concurrency: props.ScalingConfig?.MaximumConcurrency,
  });
}

/**
 * What the operator CLI (`agent-jobs dlq ... --local`) needs, from the same stack outputs it reads
 * from CloudFormation for a deployed stack.
 */
async function writeCliEndpoints(
  template: CfnTemplate,
  resolve: Resolver,
  dataDir: string,
  stack: { tableName: string; endpoints: LocalEndpoints; defaultLimits: TenantLimits },
) {
  const output = (name: string) => String(resolve(template.Outputs?.[name]?.Value));
  const file: LocalEndpointsFile = {
    tableName: stack.tableName,
    jobDlqUrl: output('JobDlqUrl'),
    startDlqUrl: output('StartDlqUrl'),
    endpoints: { dynamodb: stack.endpoints.dynamodb, sqs: stack.endpoints.sqs },
    region: LOCAL_REGION,
    defaultLimits: stack.defaultLimits,
  };
  await writeFile(join(dataDir, LOCAL_ENDPOINTS_FILE), `${JSON.stringify(file, null, 2)}\n`);
}

interface EventRuleProps {
  EventPattern?: unknown;
  ScheduleExpression?: string;
  Targets?: Array<{ Arn?: { 'Fn::GetAtt'?: [string, string] } }>;
}

/**
 * EventBridge's part locally: each rule of the template on Step Functions status changes gets the
 * same envelope EventBridge would deliver, filtered by the rule's own pattern, and invokes its
 * target functions. A failed invocation is logged, as the sweep repairs what it left.
 */
function routeExecutionStatusChanges(template: CfnTemplate, resolve: Resolver, sfn: LocalStepFunctions) {
  const rules = eventRules(template)
    .filter((props) => props.EventPattern !== undefined)
    .map((props) => {
      const pattern = JSON.stringify(resolve(props.EventPattern ?? {}));
      return {
        matches: compileFilterCriteria({ Filters: [{ Pattern: pattern }] }),
        handlers: targetHandlers(template, props),
      };
    });
  sfn.statusChanges.on(STATUS_CHANGE_EVENT, (detail: ExecutionStatusChange) => {
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': EXECUTION_STATUS_CHANGE,
      source: 'aws.states',
      account: LOCAL_ACCOUNT_ID,
      time: new Date().toISOString(),
      region: LOCAL_REGION,
      resources: [detail.executionArn],
      detail,
    };
    for (const name of rules.filter((r) => r.matches(event)).flatMap((r) => r.handlers)) {
      void invokeEventHandler(name, event).catch((e: unknown) =>
        console.error(`local stack: ${name} failed on an execution status change`, e),
      );
    }
  });
}

const eventRules = (template: CfnTemplate) =>
  resourcesOfType(template, 'AWS::Events::Rule').map(([, rule]) => rule.Properties as EventRuleProps);

const targetHandlers = (template: CfnTemplate, props: EventRuleProps) =>
  (props.Targets ?? []).map((t) => handlerOf(template, t.Arn?.['Fn::GetAtt']?.[0] ?? ''));

/**
 * Scheduled rules invoke their targets on the same cadence; returns their stop. A schedule the local
 * stack cannot run fails the start (scheduleIntervalMs).
 */
function runSchedules(template: CfnTemplate): () => Promise<void> {
  const scheduled = eventRules(template).filter((props) => props.ScheduleExpression !== undefined);
  const intervals = scheduled.map((props) => scheduleIntervalMs(props.ScheduleExpression!));
  const timers = scheduled.map((props, i) => {
    const handlers = targetHandlers(template, props);
    const event = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };
    const tick = () => {
      for (const name of handlers) {
        void invokeEventHandler(name, { ...event, id: randomUUID(), time: new Date().toISOString() }).catch(
          (e: unknown) => console.error(`local stack: scheduled ${name} failed`, e),
        );
      }
    };
    return setInterval(tick, intervals[i]!).unref();
  });
  return async () => {
    for (const t of timers) clearInterval(t);
  };
}

async function invokeEventHandler(name: string, event: unknown) {
  const handler = await loadHandler(name);
  return handler(event, lambdaContext(name, STREAM_HANDLER_TIMEOUT_MS));
}

const STREAM_HANDLER_TIMEOUT_MS = 60_000;

async function invokeStreamHandler(name: string, event: DynamoDBStreamEvent) {
  const handler = await loadHandler(name);
  return (await handler(event, lambdaContext(name, STREAM_HANDLER_TIMEOUT_MS))) as DynamoDBBatchResponse;
}

async function invokeSqsHandler(name: string, event: SQSEvent, timeoutMs: number) {
  const handler = await loadHandler(name);
  return handler(event, lambdaContext(name, timeoutMs));
}

const handlers = new Map<string, Promise<LambdaHandler>>();

/**
 * What this local stack gives the handlers in place of the deployed parts (a process runs one
 * stack): its agents when it was given extra ones, for the handlers that look agents up
 * (`withAgents`), and its file of webhook secrets for the deliverer (`withSecrets`).
 */
const local: { agents?: FindAgent; webhookSecrets?: WebhookSecretStore } = {};

/** The handler a module exports, or the one it builds over the local stack's parts. */
function localHandler(m: HandlerModule): LambdaHandler | undefined {
  if (local.agents && m.withAgents) return m.withAgents(local.agents);
  if (local.webhookSecrets && m.withSecrets) return m.withSecrets(local.webhookSecrets) as LambdaHandler;
  return m.handler;
}

interface HandlerModule {
  handler?: LambdaHandler;
  withAgents?: (find: FindAgent) => LambdaHandler;
  withSecrets?: (secrets: WebhookSecretStore) => unknown;
}

/** Each handler module is imported once, after process.env holds the local configuration. */
function loadHandler(name: string): Promise<LambdaHandler> {
  let loaded = handlers.get(name);
  if (!loaded) {
    // A file URL, not a `.js` specifier: both tsx and vitest load it, and the local stack always runs from source.
    loaded = import(new URL(`../handlers/${name}.ts`, import.meta.url).href).then((m: HandlerModule) => {
      const handler = localHandler(m);
      if (typeof handler !== 'function') throw new Error(`lambdas/handlers/${name}.ts exports no handler`);
      return handler;
    });
    handlers.set(name, loaded);
  }
  return loaded;
}

/**
 * Imports every handler at start, so the first requests are fast and a broken module shows up now.
 * As in Lambda, a function that fails to initialise fails only its own invocations.
 */
async function preloadHandlers() {
  const names = [
    ...new Set([
      ...API_ROUTES.map((r) => r.handler),
      ...Object.values(INTERNAL_HANDLERS),
      ...Object.values(LAMBDA_TASKS),
    ]),
  ];
  const results = await Promise.allSettled(names.map(loadHandler));
  results.forEach((r, i) => {
    if (r.status === 'rejected')
      console.error(`local stack: handler ${names[i]} failed to load; its calls will fail`, r.reason);
  });
}

/** In-flight requests get a moment to finish; idle keep-alive connections would hold close() forever. */
function closeServer(server: Server, graceMs = 1000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  return closed.finally(() => clearTimeout(timer));
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}
