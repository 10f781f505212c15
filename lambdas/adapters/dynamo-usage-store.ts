import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import { TABLE_KEYS, TENANCY_KEYS, USAGE_SK_PREFIX } from '../config/table.js';
import {
  USAGE_COUNTERS,
  type UsageCounts,
  usageDay,
  type UsageDay,
  type UsageRange,
} from '../domain/usage.js';
import { documentClient } from './dynamo-table.js';

const { partition: PK, sort: SK, ttl: TTL } = TABLE_KEYS;

/**
 * A tenant's daily usage counters, as the steps' writes left them (job-store/usage-tally.ts): one
 * Query over the days asked for, in the tenant's limits partition.
 */
export class DynamoUsageStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /** The days of `range` with any activity, oldest first; days whose counters expired are gone. */
  async days(tenant: string, range: UsageRange, now: Date): Promise<UsageDay[]> {
    const days: UsageDay[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `${PK} = :pk AND ${SK} BETWEEN :from AND :to`,
          // TTL deletion can lag by days: an expired day reads as gone, like any expired item.
          FilterExpression: '#ttl > :now',
          ExpressionAttributeNames: { '#ttl': TTL },
          ExpressionAttributeValues: {
            ':pk': `${TENANCY_KEYS.limits}${tenant}`,
            ':from': `${USAGE_SK_PREFIX}${range.from}`,
            ':to': `${USAGE_SK_PREFIX}${range.to}`,
            ':now': Math.floor(now.getTime() / 1000),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) days.push(usageDay(item.day as string, countsOf(item)));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return days;
  }
}

const countsOf = (item: Record<string, unknown>) =>
  Object.fromEntries(USAGE_COUNTERS.map((name) => [name, Number(item[name] ?? 0)])) as unknown as UsageCounts;

export const usageStoreFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoUsageStore(requireEnv(ENV.tableName, env));
