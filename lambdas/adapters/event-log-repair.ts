import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_SK, TABLE_KEYS } from '../config/table.js';

const { sort: SK } = TABLE_KEYS;
import { eventsOfWrite, missingEvents, type RepairedEvent } from '../domain/job-events.js';
import type { DynamoDeliveryStore } from './dynamo-delivery-store.js';
import type { DynamoJobStore } from './dynamo-job-store.js';
import { deliveryFor } from './webhook-outbox.js';

/**
 * Fills the gaps a lost stream record leaves in a job's event log (a batch the events consumer gave
 * up on, in its DLQ), from the job item: see `missingEvents`. Every put is conditional on its seq
 * being free, as the consumer's are, so a repair racing the consumer or another repair writes
 * nothing twice, and running it again is harmless.
 */
export class EventLogRepair {
  constructor(
    private readonly store: DynamoJobStore,
    private readonly deliveries: DynamoDeliveryStore,
  ) {}

  /** The events put back into one job's log (none when it had no gap or the job is gone). */
  async repair(tenant: string, id: string): Promise<RepairedEvent[]> {
    const latest = await this.store.latestWrite(tenant, id);
    if (!latest) return [];
    const missing = missingEvents(latest.write, await this.store.loggedEvents(tenant, id));
    const ttl = this.store.logTtl(latest.write.job);
    const repaired: RepairedEvent[] = [];
    for (const r of missing) {
      if (await this.store.putEvent(tenant, id, r.event, ttl)) repaired.push(r);
    }
    // The webhook the last write calls for, whether its event was lost or only its delivery: created
    // pending and already due, it gets its queue message from the sweep's overdue requeue. Earlier
    // writes' webhooks announced states the job has left, and are not sent late.
    for (const event of eventsOfWrite(latest.write)) {
      const delivery = deliveryFor(tenant, latest.write.job, event);
      if (delivery) await this.deliveries.create(delivery, ttl);
    }
    return repaired;
  }
}

/** Every job of the table, or those with the given ids: a Scan, for operators only. */
export async function* jobsInTable(
  client: DynamoDBDocumentClient,
  tableName: string,
  ids: readonly string[] = [],
): AsyncGenerator<{ tenant: string; id: string }> {
  const wanted = ids.map((_, i) => `:id${i}`);
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: wanted.length ? `${SK} = :job AND id IN (${wanted.join(', ')})` : `${SK} = :job`,
        ProjectionExpression: 'tenant, id',
        ExpressionAttributeValues: {
          ':job': JOB_SK,
          ...Object.fromEntries(ids.map((id, i) => [`:id${i}`, id])),
        },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of out.Items ?? []) yield { tenant: item.tenant as string, id: item.id as string };
    startKey = out.LastEvaluatedKey;
  } while (startKey);
}
