import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { idempotencyKey, TABLE_KEYS } from '../../config/table.js';
import type { Job } from '../../domain/job.js';
import { toTtl } from '../../domain/retention.js';

/** Idempotency-Key items: which job each key of a tenant created. */
export class IdempotencyKeys {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient,
  ) {}

  /** The job the key names, read consistently; undefined for a key never used (or expired). */
  async jobOf(tenant: string, keyId: string): Promise<{ jobId: string } | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: idempotencyKey(tenant, keyId),
        ProjectionExpression: 'jobId',
        ConsistentRead: true,
      }),
    );
    return Item as { jobId: string } | undefined;
  }

  /**
   * The key item's put, for the transaction that also writes the job. It lives as long as its job
   * can (the job's live backstop expiry), and is taken over by a new job only while it still names
   * the expired or deleted one that was read.
   */
  put(job: Job, keyId: string, staleJobId: string | undefined) {
    return {
      TableName: this.tableName,
      Item: {
        ...idempotencyKey(job.tenant, keyId),
        jobId: job.id,
        createdAt: job.createdAt,
        [TABLE_KEYS.ttl]: toTtl(job.expiresAt),
      },
      ConditionExpression:
        staleJobId === undefined ? `attribute_not_exists(${TABLE_KEYS.partition})` : 'jobId = :stale',
      ...(staleJobId === undefined ? {} : { ExpressionAttributeValues: { ':stale': staleJobId } }),
    };
  }
}

/**
 * A transaction refused because a condition failed (a duplicate committed first) or because a
 * duplicate's transaction held the same item at that moment.
 */
export const isTransactionRace = (e: unknown) =>
  e instanceof Error && ['TransactionCanceledException', 'TransactionConflictException'].includes(e.name);
