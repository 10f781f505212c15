import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { EVENT_SK_PREFIX, eventSk, JOB_SK, jobPk, TABLE_KEYS } from '../../config/table.js';
import type { Job } from '../../domain/job.js';
import type { JobEvent } from '../../domain/job-events.js';
import type { EventQuery } from '../../domain/job-store.js';
import type { RetentionPolicy } from '../../domain/retention.js';
import { logExpiry, toTtl } from '../../domain/retention.js';
import { conditionalWriteLanded } from '../dynamo-table.js';

const { partition: PK, sort: SK, ttl: TTL } = TABLE_KEYS;
const EVENT_ATTRIBUTES = 'seq, #type, #at, #data';
const EVENT_NAMES = { '#type': 'type', '#at': 'at', '#data': 'data' };

const seqOf = (sortKey: string) => Number(sortKey.slice(EVENT_SK_PREFIX.length));

/** A job's event log: one item per event in the job's partition, under `E#<seq>`. */
export class EventItems {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient,
    private readonly retention?: RetentionPolicy,
  ) {}

  async listEvents(tenant: string, id: string, query: EventQuery) {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: `${PK} = :pk AND ${SK} BETWEEN :from AND :to`,
        FilterExpression: '#at >= :since',
        ProjectionExpression: EVENT_ATTRIBUTES,
        ExpressionAttributeNames: EVENT_NAMES,
        ExpressionAttributeValues: {
          ':pk': jobPk(tenant, id),
          // BETWEEN is inclusive: start right after the reader's last seq.
          ':from': eventSk(query.after + 1),
          ':to': `${EVENT_SK_PREFIX}\uffff`,
          ':since': query.since,
        },
        Limit: query.limit,
        ConsistentRead: true,
      }),
    );
    const events = (out.Items ?? []).map(({ seq, type, at, data }) => ({ seq, type, at, data }) as JobEvent);
    const next = out.LastEvaluatedKey && seqOf(out.LastEvaluatedKey[SK] as string);
    return { events, next };
  }

  /** TTL of the event and delivery items a write leaves the job in this state causes. */
  logTtl(job: Job): number {
    return toTtl(logExpiry(job, this.retention));
  }

  /**
   * Gives the job's event and delivery items that would expire before it the job's own TTL: run
   * by the job's terminal write, whose expiry may lie beyond what its live writes assumed.
   * Returns how many it extended (none for a job that ended as those writes assumed).
   */
  async extendLog(tenant: string, id: string, ttl: number): Promise<number> {
    let extended = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `${PK} = :pk AND ${SK} < :job`,
          FilterExpression: '#ttl < :ttl',
          ProjectionExpression: `${PK}, ${SK}`,
          ExpressionAttributeNames: { '#ttl': TTL },
          ExpressionAttributeValues: { ':pk': jobPk(tenant, id), ':job': JOB_SK, ':ttl': ttl },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const key of out.Items ?? []) if (await this.extendItem(key, ttl)) extended++;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return extended;
  }

  private extendItem(key: Record<string, unknown>, ttl: number): Promise<boolean> {
    return conditionalWriteLanded(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [PK]: key[PK], [SK]: key[SK] },
        UpdateExpression: 'SET #ttl = :ttl',
        ConditionExpression: `attribute_exists(${SK}) AND #ttl < :ttl`,
        ExpressionAttributeNames: { '#ttl': TTL },
        ExpressionAttributeValues: { ':ttl': ttl },
      }),
    );
  }

  /** Every seq in the job's log, with its time. */
  async loggedEvents(tenant: string, id: string): Promise<Map<number, string>> {
    const logged = new Map<number, string>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `${PK} = :pk AND begins_with(${SK}, :events)`,
          ProjectionExpression: 'seq, #at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':pk': jobPk(tenant, id), ':events': EVENT_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const e of out.Items ?? []) logged.set(e.seq as number, e.at as string);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return logged;
  }

  putEvent(tenant: string, id: string, event: JobEvent, ttl: number): Promise<boolean> {
    return conditionalWriteLanded(
      this.client,
      new PutCommand({
        TableName: this.tableName,
        Item: { [PK]: jobPk(tenant, id), [SK]: eventSk(event.seq), ...event, [TTL]: ttl },
        ConditionExpression: `attribute_not_exists(${SK})`,
      }),
    );
  }
}
