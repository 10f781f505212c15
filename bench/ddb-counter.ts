import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
  'BatchWriteItemCommand',
]);
const READS = new Set([
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'TransactGetItemsCommand',
  'BatchGetItemCommand',
]);

export interface DynamoCounts {
  reads: number;
  consistentReads: number;
  writes: number;
  /** Write capacity units the writes consumed, table and indexes, as DynamoDB reports them. */
  writeUnits: number;
}

type Consumed = { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> | undefined;
const unitsOf = (consumed: Consumed) =>
  [consumed ?? []].flat().reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);

export type DynamoCounter = ReturnType<typeof countDynamoRequests>;

/**
 * Counts DynamoDB requests as the SDK sends them (a middleware on each client: the handlers' and
 * the one the workflow's DynamoDB tasks use), so the figures are what a deployment would be billed
 * for, not an estimate.
 */
export function countDynamoRequests(...clients: DynamoDBClient[]) {
  const counts: DynamoCounts = { reads: 0, consistentReads: 0, writes: 0, writeUnits: 0 };
  for (const client of clients)
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (WRITES.has(context.commandName ?? '')) {
          counts.writes++;
          // Asking for the consumed capacity changes nothing else about the write.
          const input = args.input as { ReturnConsumedCapacity?: string };
          input.ReturnConsumedCapacity ??= 'TOTAL';
          const result = await next(args);
          counts.writeUnits += unitsOf((result.output as { ConsumedCapacity?: Consumed }).ConsumedCapacity);
          return result;
        }
        if (READS.has(context.commandName ?? '')) {
          counts.reads++;
          // A strongly consistent read costs twice an eventually consistent one.
          if ((args.input as { ConsistentRead?: boolean }).ConsistentRead) counts.consistentReads++;
        }
        return next(args);
      },
      { step: 'initialize', name: 'benchRequestCounter' },
    );
  return {
    snapshot: () => ({ ...counts }),
    since: (before: DynamoCounts): DynamoCounts => ({
      reads: counts.reads - before.reads,
      consistentReads: counts.consistentReads - before.consistentReads,
      writes: counts.writes - before.writes,
      writeUnits: counts.writeUnits - before.writeUnits,
    }),
  };
}

// Over twice the local stream poller's idle interval (250 ms), so a consumer about to run is waited for.
const QUIET_MS = 600;

/** How often quiescence looks at the counts. */
const QUIET_POLL_MS = 25;

/** Waits until no request has been counted for `quietMs`: earlier work (stream consumers, executions) is done. */
export async function quiescence(counter: DynamoCounter, quietMs = QUIET_MS): Promise<void> {
  let last = JSON.stringify(counter.snapshot());
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(QUIET_POLL_MS, quietMs)));
    const now = JSON.stringify(counter.snapshot());
    if (now !== last) [last, quietSince] = [now, Date.now()];
  }
}

/**
 * Requests `fn` makes, counted once earlier work has drained so none of it is mistaken for `fn`'s.
 * With `untilQuiet`, also the requests of the work `fn` sets off (stream consumers, executions).
 */
export async function requestsDuring(
  counter: DynamoCounter,
  fn: () => Promise<unknown>,
  { untilQuiet = false } = {},
): Promise<DynamoCounts> {
  await quiescence(counter);
  const before = counter.snapshot();
  await fn();
  // Records reach a stream consumer up to a second or so after the write that made them.
  if (untilQuiet) await quiescence(counter, 4 * QUIET_MS);
  return counter.since(before);
}
