import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { LIVE_SHARD_PREFIX, LIVE_SHARDS, SWEEP_CURSOR_KEY, TABLE_KEYS } from '../../config/table.js';
import type { LiveJob, SweepCursor } from '../../domain/job-store.js';

const START: SweepCursor = { shard: 0 };

/** The sweep's view of the table: live jobs from the sparse live index, and where it stopped reading. */
export class LiveIndex {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient,
  ) {}

  async listLivePage(before: string, from: SweepCursor, limit: number) {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_KEYS.liveIndex,
        KeyConditionExpression: `${TABLE_KEYS.livePartition} = :shard AND ${TABLE_KEYS.liveSort} < :before`,
        ExpressionAttributeValues: { ':shard': `${LIVE_SHARD_PREFIX}${from.shard}`, ':before': before },
        ExclusiveStartKey: from.after,
        Limit: limit,
      }),
    );
    const jobs: LiveJob[] = (out.Items ?? []).map((i) => ({
      tenant: i.tenant,
      jobId: i.id,
      pk: i[TABLE_KEYS.partition],
      status: i.status,
      executionName: i.executionName,
      createdAt: i.createdAt,
    }));
    const after = out.LastEvaluatedKey as Record<string, string> | undefined;
    let next: SweepCursor | undefined;
    if (after) next = { shard: from.shard, after };
    else if (from.shard + 1 < LIVE_SHARDS) next = { shard: from.shard + 1 };
    return { jobs, next };
  }

  async sweepCursor(): Promise<SweepCursor> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: SWEEP_CURSOR_KEY, ConsistentRead: true }),
    );
    return Item
      ? { shard: Item.shard as number, after: Item.after as Record<string, string> | undefined }
      : START;
  }

  async saveSweepCursor(cursor: SweepCursor) {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...SWEEP_CURSOR_KEY, ...cursor } }),
    );
  }
}
