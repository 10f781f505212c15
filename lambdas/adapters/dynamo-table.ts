import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LIVE_SHARDS, TABLE_KEYS } from '../config/table.js';
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
 * Every item of the sparse GSI2 under one kind of partition (`LIVE#` jobs, `DLV#` deliveries),
 * across its shards, whose sort key is before `before`.
 */
export async function querySweepIndex(
  client: DynamoDBDocumentClient,
  tableName: string,
  partitionPrefix: string,
  before: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- index items are read field by field
): Promise<Record<string, any>[]> {
  const shards = Array.from({ length: LIVE_SHARDS }, (_, i) => `${partitionPrefix}${i}`);
  const pages = await Promise.all(
    shards.map(async (shard) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
      const found: Record<string, any>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const out = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: TABLE_KEYS.liveIndex,
            KeyConditionExpression: `${TABLE_KEYS.livePartition} = :shard AND ${TABLE_KEYS.liveSort} < :before`,
            ExpressionAttributeValues: { ':shard': shard, ':before': before },
            ExclusiveStartKey: startKey,
          }),
        );
        found.push(...(out.Items ?? []));
        startKey = out.LastEvaluatedKey;
      } while (startKey);
      return found;
    }),
  );
  return pages.flat();
}
