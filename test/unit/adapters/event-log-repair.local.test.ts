import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDeliveryStore } from '../../../lambdas/adapters/dynamo-delivery-store.js';
import { DynamoJobStore } from '../../../lambdas/adapters/dynamo-job-store.js';
import { newJobId } from '../../../lambdas/domain/idempotency.js';
import { newJob } from '../../../lambdas/domain/job.js';
import { eventsOfWrite } from '../../../lambdas/domain/job-events.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';
import { runEventsRepair } from '../../../bin/events-cli.js';
import { useJobsTable } from '../support/dynamodb-local.js';
import { markRunning } from '../support/job-writes.js';

const TABLE = 'agent-jobs-events-repair-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let doc: DynamoDBDocumentClient;
let store: DynamoJobStore;
let deliveries: DynamoDeliveryStore;

useJobsTable(TABLE, (client) => {
  doc = client;
  store = new DynamoJobStore(TABLE, client);
  deliveries = new DynamoDeliveryStore(TABLE, client);
});

/** What the events consumer does with a committed write's stream record. */
async function appendLatest(tenant: string, id: string) {
  const latest = await store.latestWrite(tenant, id);
  for (const event of eventsOfWrite(latest!.write)) await store.putEvent(tenant, id, event, latest!.ttl);
}

const lines: string[] = [];
const out = (line: string) => lines.push(line);

describe('events repair', () => {
  it('puts back lost events: the last write exactly (with its webhook), earlier ones as stand-ins', async () => {
    const tenant = `repair-${process.pid}`;
    const job = newJob(
      newJobId(),
      tenant,
      { agent: 'echo', input: {}, webhook: { url: 'https://hooks.example/x' }, timeoutSeconds: 900 },
      T0,
      liveExpiry(T0, 900),
    );
    await store.create(job, 'fp', T0);
    await appendLatest(tenant, job.id); // 1 job.created
    await markRunning(doc, TABLE, tenant, job.id, at(1)); // 2 job.running: its record is lost
    const progress = (step: number) => ({ fraction: step / 2, step, message: null });
    await store.checkpoint(tenant, job.id, { completedSteps: 1, progress: progress(1), state: {} }, at(2));
    await appendLatest(tenant, job.id); // 3 job.progress
    await store.succeed(tenant, job.id, { ok: 1 }, { completedSteps: 2, progress: progress(2) }, at(3));
    // 4 job.progress and 5 job.succeeded: that record is lost too.

    expect(await runEventsRepair(TABLE, doc, [job.id], out)).toBe(3);

    const log = await store.listEvents(tenant, job.id, { after: 0, limit: 100, since: '' });
    expect(log.events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'job.created'],
      [2, 'job.progress'],
      [3, 'job.progress'],
      [4, 'job.progress'],
      [5, 'job.succeeded'],
    ]);
    const item = await store.latestWrite(tenant, job.id);
    const expected = eventsOfWrite(item!.write);
    expect(log.events.slice(3)).toEqual(expected);
    expect(log.events[1]).toMatchObject({ at: log.events[2]?.at, data: { step: 2, fraction: 1 } });
    expect(await deliveries.get(tenant, job.id, 5)).toMatchObject({
      type: 'job.succeeded',
      status: 'pending',
    });
    expect(await deliveries.get(tenant, job.id, 1)).toBeUndefined();
    expect(lines.at(-2)).toContain('2 job.progress (stand-in), 4 job.progress, 5 job.succeeded');

    // Nothing is written twice.
    expect(await runEventsRepair(TABLE, doc, [], out)).toBe(0);
  });
});
