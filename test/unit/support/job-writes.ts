import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { announce, STATUS_NAMES, statusCondition } from '../../../lambdas/config/job-writes.js';
import { jobKey } from '../../../lambdas/adapters/job-store/job-item.js';
import { newJobId } from '../../../lambdas/domain/idempotency.js';
import { type Job, MOVES, newJob } from '../../../lambdas/domain/job.js';
import type { JobStore } from '../../../lambdas/domain/job-store.js';
import { liveExpiry } from '../../../lambdas/domain/retention.js';

/** A pending echo job of `tenant`, created through the store as a submit creates it. */
export async function createdJob(store: Pick<JobStore, 'create'>, tenant: string, at: Date): Promise<Job> {
  const job = newJob(
    newJobId(),
    tenant,
    { agent: 'echo', input: {}, timeoutSeconds: 900 },
    at,
    liveExpiry(at, 900),
  );
  await store.create(job, 'fp', at);
  return job;
}

/**
 * What the workflow's MarkRunning task writes (a service integration, not a store method), from the
 * same status move and event-seq rule the workflow's definition is built from.
 */
export async function markRunning(
  doc: DynamoDBDocumentClient,
  table: string,
  tenant: string,
  id: string,
  at: Date,
) {
  const events = announce('job.running');
  const from = statusCondition(MOVES.start.from);
  await doc.send(
    new UpdateCommand({
      TableName: table,
      Key: jobKey(tenant, id),
      UpdateExpression: `SET #status = :running, startedAt = :at, updatedAt = :at, ${events.update}`,
      ConditionExpression: from.condition,
      ExpressionAttributeNames: STATUS_NAMES,
      ExpressionAttributeValues: {
        ...events.values,
        ...from.values,
        ':running': MOVES.start.to,
        ':at': at.toISOString(),
      },
    }),
  );
}
