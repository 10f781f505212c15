import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceNotFoundException,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { ENV } from '../config/env.js';
import {
  type CfnTemplate,
  LOCAL_REGION,
  localBucketName,
  localQueueName,
  type Resolver,
  resourcesOfType,
} from './template.js';

export interface TableProps {
  KeySchema: KeySchemaElement[];
  AttributeDefinitions: AttributeDefinition[];
  GlobalSecondaryIndexes?: Array<Omit<GlobalSecondaryIndex, 'ProvisionedThroughput'>>;
  StreamSpecification?: {
    StreamViewType: NonNullable<TableDescription['StreamSpecification']>['StreamViewType'];
  };
  TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
}

/** What a local table needs; encryption, recovery and deletion settings have no local meaning. */
const TABLE_PROPERTIES = [
  'KeySchema',
  'AttributeDefinitions',
  'GlobalSecondaryIndexes',
  'StreamSpecification',
  'TimeToLiveSpecification',
] as const;

function pick(props: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in props).map((k) => [k, props[k]]));
}

/**
 * Creates each table of the template unless a previous start already did (the data dir persists).
 * A table whose indexes or stream drifted from the template is reported, not silently reused.
 */
export async function provisionTables(template: CfnTemplate, resolve: Resolver, client: DynamoDBClient) {
  const names: string[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
    const props = resolve(pick(resource.Properties ?? {}, TABLE_PROPERTIES)) as TableProps;
    const existing = await describeTable(client, logicalId);
    if (existing) assertSameShape(logicalId, existing, props);
    else await createTable(client, logicalId, props);
    names.push(logicalId);
  }
  return names;
}

async function describeTable(client: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return undefined;
    throw e;
  }
}

/** Creates a table as the template describes it (keys, indexes, stream and TTL). */
export async function createTable(client: DynamoDBClient, name: string, props: TableProps) {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: props.KeySchema,
      AttributeDefinitions: props.AttributeDefinitions,
      GlobalSecondaryIndexes: props.GlobalSecondaryIndexes?.map(({ IndexName, KeySchema, Projection }) => ({
        IndexName,
        KeySchema,
        Projection,
      })),
      StreamSpecification: props.StreamSpecification
        ? { StreamEnabled: true, StreamViewType: props.StreamSpecification.StreamViewType }
        : undefined,
    }),
  );
  const ttl = props.TimeToLiveSpecification;
  if (ttl?.Enabled) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      }),
    );
  }
}

function assertSameShape(name: string, table: TableDescription, props: TableProps) {
  const indexes = (list: Array<{ IndexName?: string }> | undefined) =>
    (list ?? [])
      .map((i) => i.IndexName)
      .sort()
      .join(',');
  const streamOf = (t: { StreamViewType?: string } | undefined) => t?.StreamViewType ?? 'none';
  const drift = [
    indexes(table.GlobalSecondaryIndexes) !== indexes(props.GlobalSecondaryIndexes) &&
      'global secondary indexes',
    streamOf(table.StreamSpecification) !== streamOf(props.StreamSpecification) && 'stream view type',
  ].filter(Boolean);
  if (drift.length > 0) {
    throw new Error(
      `table ${name} in the local data dir differs from the template (${drift.join(', ')}); ` +
        'delete the data dir (default .data/) to recreate it',
    );
  }
}

/**
 * Creates each bucket of the template unless a previous start already did (fauxqs keeps buckets
 * and objects under the data dir). Encryption, TLS and lifecycle rules have no local meaning.
 */
export async function provisionBuckets(template: CfnTemplate, client: S3Client): Promise<string[]> {
  const names = resourcesOfType(template, 'AWS::S3::Bucket').map(([logicalId]) => localBucketName(logicalId));
  for (const Bucket of names) {
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
    } catch {
      await client.send(new CreateBucketCommand({ Bucket }));
    }
  }
  return names;
}

/** CloudFormation queue properties that are SQS attributes, as CreateQueue wants them (strings). */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
] as const;

/** Encryption and tags have no local meaning; anything else unknown would silently change behaviour. */
const IGNORED_QUEUE_PROPERTIES = new Set([
  'SqsManagedSseEnabled',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'Tags',
]);

/**
 * Creates each queue of the template, or brings one a previous start left in the data dir (with
 * its messages) to the template's attributes, as a stack update would. Dead-letter queues go
 * first, as a redrive policy may only point at an existing queue.
 */
export async function provisionQueues(
  template: CfnTemplate,
  resolve: Resolver,
  client: SQSClient,
): Promise<Record<string, string>> {
  const queues = resourcesOfType(template, 'AWS::SQS::Queue').sort(
    ([, a], [, b]) =>
      Number(Boolean(a.Properties?.RedrivePolicy)) - Number(Boolean(b.Properties?.RedrivePolicy)),
  );
  const urls: Record<string, string> = {};
  for (const [logicalId, resource] of queues) {
    const url = String(resolve({ Ref: logicalId }));
    const attributes = queueAttributes(logicalId, resource.Properties ?? {}, resolve);
    const name = localQueueName(logicalId);
    const existing = await existingQueueUrl(client, name);
    const QueueUrl =
      existing ??
      (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
    // Handlers get the resolver's URL; it must name the queue fauxqs made. A queue restored from the
    // data dir keeps the port of the run that created it, and fauxqs finds queues by region and name.
    if (!sameQueue(url, QueueUrl)) {
      throw new Error(`queue ${logicalId}: fauxqs named it ${QueueUrl}, the resolver ${url}`);
    }
    if (existing) await updateQueue(client, url, attributes);
    urls[logicalId] = url;
  }
  return urls;
}

async function existingQueueUrl(client: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (e) {
    if (e instanceof QueueDoesNotExist) return undefined;
    throw e;
  }
}

/** FifoQueue is fixed at creation (and carried by the name); everything else follows the template. */
async function updateQueue(
  client: SQSClient,
  url: string,
  { FifoQueue: _, ...attributes }: Record<string, string>,
) {
  if (Object.keys(attributes).length === 0) return;
  await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
}

const sameQueue = (a: string, b: string) => {
  const [x, y] = [new URL(a), new URL(b)];
  return x.hostname === y.hostname && x.pathname === y.pathname;
};

export function queueAttributes(
  logicalId: string,
  props: Record<string, unknown>,
  resolve: Resolver,
): Record<string, string> {
  const unknown = Object.keys(props).filter(
    (k) => !IGNORED_QUEUE_PROPERTIES.has(k) && !(QUEUE_ATTRIBUTES as readonly string[]).includes(k),
  );
  if (unknown.length > 0) throw new Error(`queue ${logicalId}: no local mapping for ${unknown.join(', ')}`);
  const attributes: Record<string, string> = {};
  for (const name of QUEUE_ATTRIBUTES) {
    const value = resolve(props[name]);
    if (value === undefined) continue;
    attributes[name] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return attributes;
}

export interface LocalEndpoints {
  dynamodb: string;
  sqs: string;
  /** fauxqs's S3 API: files under the data dir, for values too large for an item or a message. */
  s3: string;
  sfn: string;
}

/**
 * The environment every handler sees: what CDK gives the Lambda functions, with local endpoints.
 * Handlers share one process, so two functions wanting different values for a name cannot both
 * be served; that is a template problem and is reported as one.
 */
export function buildHandlerEnv(
  template: CfnTemplate,
  resolve: Resolver,
  endpoints: LocalEndpoints,
): Record<string, string> {
  const env: Record<string, string> = {};
  const origin: Record<string, string> = {};
  for (const [logicalId, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const environment = fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
    const variables = resolve(environment?.Variables ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(variables)) {
      // Launcher flags for a fresh Node process; this one is already running.
      if (name === 'NODE_OPTIONS') continue;
      const text = String(value);
      if (name in env && env[name] !== text) {
        throw new Error(
          `env var ${name} differs between functions ${origin[name]} (${env[name]}) and ${logicalId} (${text})`,
        );
      }
      env[name] = text;
      origin[name] = logicalId;
    }
  }
  return { ...env, ...localServiceEnv(endpoints) };
}

/** The SDK reads AWS_ENDPOINT_URL_<SERVICE ID> per client, so handler code needs no local branches. */
export function localServiceEnv(endpoints: LocalEndpoints): Record<string, string> {
  return {
    [ENV.deployment]: 'local',
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_SFN: endpoints.sfn,
  };
}
