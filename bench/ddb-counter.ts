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

/**
 * Counts DynamoDB requests as the SDK sends them (a middleware on the client the handlers use),
 * so the figures are what a deployed function would be billed for, not an estimate.
 */
export function countDynamoRequests(client: DynamoDBClient) {
  const counts = { reads: 0, writes: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (WRITES.has(context.commandName ?? '')) counts.writes++;
      if (READS.has(context.commandName ?? '')) counts.reads++;
      return next(args);
    },
    { step: 'initialize', name: 'benchRequestCounter' },
  );
  return {
    snapshot: () => ({ ...counts }),
    since: (before: { reads: number; writes: number }) => ({
      reads: counts.reads - before.reads,
      writes: counts.writes - before.writes,
    }),
  };
}
