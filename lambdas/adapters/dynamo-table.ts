import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LIVE_SHARDS, TABLE_KEYS } from '../config/table.js';
import type { SweepCursor } from '../domain/job-store.js';
import { withoutSdkLogging } from './sdk-clients.js';

/** SDK clients are created once per container (module level), as every handler shares them. */
export const dynamoClient = withoutSdkLogging(new DynamoDBClient({}));
/**
 * How every table write marshals its items. Frozen, and each document client gets a copy:
 * lib-dynamodb writes its own defaults into the options object it is given.
 */
export const MARSHALL_OPTIONS = Object.freeze({
  removeUndefinedValues: true,
  convertClassInstanceToMap: false,
});
export const documentClient = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { ...MARSHALL_OPTIONS },
});

export const isConditionFailure = (e: unknown): e is ConditionalCheckFailedException =>
  e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException';

/** What a conditional write came to: the attributes it returned, or the item its condition refused. */
export type ConditionalOutcome =
  | { written: true; attributes: Record<string, unknown> | undefined }
  | {
      written: false;
      /** The item as it stood, when the write asked for ALL_OLD on refusal and the item existed. */
      refused: Record<string, unknown> | undefined;
      /** The refusal as the SDK raised it. */
      error: ConditionalCheckFailedException;
    };

/**
 * Sends a conditional put or update; a failed condition is an outcome, not an error. Any other
 * error is thrown as it came. The document client leaves a refused item in wire format, so it is
 * unmarshalled here.
 */
export async function conditionalWrite(
  client: DynamoDBDocumentClient,
  command: PutCommand | UpdateCommand,
): Promise<ConditionalOutcome> {
  try {
    const out = await client.send(command as UpdateCommand);
    return { written: true, attributes: out.Attributes };
  } catch (e) {
    if (!isConditionFailure(e)) throw e;
    return { written: false, refused: e.Item && unmarshall(e.Item), error: e };
  }
}

/** A conditional write whose only answer is whether it landed. */
export const conditionalWriteLanded = async (
  client: DynamoDBDocumentClient,
  command: PutCommand | UpdateCommand,
): Promise<boolean> => (await conditionalWrite(client, command)).written;

/**
 * One page of the sparse GSI2 under one kind of partition (`LIVE#` jobs, `DLV#` deliveries), from
 * `from`, shard after shard, and where the next page starts (none after the last shard's end).
 */
export async function querySweepPage(
  client: DynamoDBDocumentClient,
  tableName: string,
  partitionPrefix: string,
  before: string,
  from: SweepCursor,
  limit: number,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- index items are read field by field
): Promise<{ items: Record<string, any>[]; next: SweepCursor | undefined }> {
  const out = await client.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: TABLE_KEYS.liveIndex,
      KeyConditionExpression: `${TABLE_KEYS.livePartition} = :shard AND ${TABLE_KEYS.liveSort} < :before`,
      ExpressionAttributeValues: { ':shard': `${partitionPrefix}${from.shard}`, ':before': before },
      ExclusiveStartKey: from.after,
      Limit: limit,
    }),
  );
  const after = out.LastEvaluatedKey as Record<string, string> | undefined;
  let next: SweepCursor | undefined;
  if (after) next = { shard: from.shard, after };
  else if (from.shard + 1 < LIVE_SHARDS) next = { shard: from.shard + 1 };
  return { items: out.Items ?? [], next };
}

const SWEEP_START: SweepCursor = { shard: 0 };

/** Where a sweep stopped reading, kept in the item at `key`; the start of the index when none did. */
export async function readSweepCursor(
  client: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, string>,
): Promise<SweepCursor> {
  const { Item } = await client.send(
    new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
  );
  return Item
    ? { shard: Item.shard as number, after: Item.after as Record<string, string> | undefined }
    : SWEEP_START;
}

export async function saveSweepCursor(
  client: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, string>,
  cursor: SweepCursor,
): Promise<void> {
  await client.send(new PutCommand({ TableName: tableName, Item: { ...key, ...cursor } }));
}
