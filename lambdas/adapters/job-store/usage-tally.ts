import {
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS, usageKey } from '../../config/table.js';
import type { Checkpoint } from '../../domain/job-store.js';
import { USAGE_COUNTERS, usageTtl } from '../../domain/usage.js';

type Tally = NonNullable<Checkpoint['tally']>;
type Update = Omit<UpdateCommandInput, 'ReturnValues' | 'ReturnValuesOnConditionCheckFailure'> & {
  TableName: string;
  UpdateExpression: string;
};

/** A transaction that met another one on the same item (a tenant's busy day) is tried again this often. */
const MAX_CONFLICT_RETRIES = 5;

/** The increment of a tenant's day: ADD creates the item and its counters on the day's first write. */
function increment(tableName: string, tenant: string, { day, counts }: Tally): Update {
  return {
    TableName: tableName,
    Key: usageKey(tenant, day),
    UpdateExpression:
      `ADD ${USAGE_COUNTERS.map((name) => `${name} :${name}`).join(', ')} ` +
      'SET tenant = :tenant, #day = :day, #ttl = :ttl',
    ExpressionAttributeNames: { '#day': 'day', '#ttl': TABLE_KEYS.ttl },
    ExpressionAttributeValues: {
      ...Object.fromEntries(USAGE_COUNTERS.map((name) => [`:${name}`, counts[name]])),
      ':tenant': tenant,
      ':day': day,
      ':ttl': usageTtl(day),
    },
  };
}

const reasonsOf = (e: unknown): (string | undefined)[] =>
  ((e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).map((r) => r.Code);

const isCancelled = (e: unknown) => (e as Error)?.name === 'TransactionCanceledException';

/**
 * A step's conditional job write together with its usage increment, in one transaction: the job's
 * condition (it still runs, this step not yet recorded) guards both, so a step counts exactly
 * once. False when the job's condition refused it, as for a plain conditional write.
 */
export async function writeWithTally(
  client: DynamoDBDocumentClient,
  job: Update,
  tenant: string,
  tally: Tally,
): Promise<boolean> {
  const command = new TransactWriteCommand({
    TransactItems: [{ Update: job }, { Update: increment(job.TableName, tenant, tally) }],
  });
  for (let attempt = 0; ; attempt++) {
    try {
      await client.send(command);
      return true;
    } catch (e) {
      if (!isCancelled(e)) throw e;
      const reasons = reasonsOf(e);
      if (reasons[0] === 'ConditionalCheckFailed') return false;
      if (!reasons.includes('TransactionConflict') || attempt >= MAX_CONFLICT_RETRIES) throw e;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
    }
  }
}
