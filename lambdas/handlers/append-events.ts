import { createLogger } from '../config/logger.js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { committedWrite, jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { webhookOutboxFromEnv } from '../adapters/webhook-outbox.js';
import { isTerminal } from '../domain/job.js';
import { type CommittedWrite, eventsOfWrite, missingEvents } from '../domain/job-events.js';

const logger = createLogger();
const store = jobStoreFromEnv();
const outbox = webhookOutboxFromEnv();

const image = (img: unknown) => (img ? unmarshall(img as Record<string, AttributeValue>) : undefined);

/**
 * Appends the events a committed job write caused to the job's log, and puts the webhook
 * deliveries they call for on their way. Each event's seq was handed out by that write, and both
 * the append and the delivery are conditional on that seq, so a redelivered record writes nothing
 * twice and a crash midway is finished by the retry with no gap.
 *
 * This consumer is also the webhook notifier: a table stream feeds at most two Lambda readers,
 * both taken (execution control and this), and every event a webhook announces passes here.
 */
export async function appendEvents(record: DynamoDBRecord): Promise<number> {
  const found = committedWrite(image(record.dynamodb?.NewImage), image(record.dynamodb?.OldImage));
  if (!found) return 0;
  let appended = 0;
  const ttl = store.logTtl(found.write.job);
  for (const event of eventsOfWrite(found.write)) {
    if (await store.putEvent(found.tenant, found.id, event, ttl)) appended++;
    await outbox.enqueue(found.tenant, found.write.job, event, ttl);
  }
  if (isTerminal(found.write.job.status))
    appended += await closeLog(found.tenant, found.id, found.write, found.ttl);
  return appended;
}

/**
 * A terminal write closes the job's log. Every earlier record of the job has been applied or given
 * up on (a shard's records are handed over in order), so a seq still missing was lost with a batch
 * in the events DLQ: it is filled now (see `missingEvents`), and no reader waits on a hole. And the
 * log expires with the job: items that would expire before it (a failure is kept longer than live
 * writes assume) get its expiry.
 */
async function closeLog(tenant: string, id: string, write: CommittedWrite, ttl: number): Promise<number> {
  let filled = 0;
  for (const { event } of missingEvents(write, await store.loggedEvents(tenant, id))) {
    if (await store.putEvent(tenant, id, event, ttl)) filled++;
  }
  if (filled > 0) logger.warn('lost events filled', { jobId: id, filled });
  await store.extendLog(tenant, id, ttl);
  return filled;
}

/**
 * Each job's records in order, different jobs concurrently: a batch holds many jobs' writes and
 * appending them one after another would make every job's events wait for all the others. The
 * earliest failed record is reported back, so the event source retries from it (appends are
 * idempotent) and finally sends the batch to the events DLQ: an event is never silently dropped.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const byJob = new Map<string, DynamoDBRecord[]>();
  for (const record of event.Records) {
    const key = JSON.stringify(record.dynamodb?.Keys ?? {});
    byJob.set(key, [...(byJob.get(key) ?? []), record]);
  }
  const failed = await Promise.all(
    [...byJob.values()].map(async (records) => {
      for (const record of records) {
        try {
          await appendEvents(record);
        } catch (error) {
          logger.error('job events not appended', { error: error as Error, eventID: record.eventID });
          return record;
        }
      }
      return undefined;
    }),
  );
  const first = event.Records.find((r) => failed.includes(r));
  return { batchItemFailures: first ? [{ itemIdentifier: first.dynamodb?.SequenceNumber ?? '' }] : [] };
};
