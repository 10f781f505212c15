import { tmpdir } from 'node:os';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { MARSHALL_OPTIONS } from '../../../lambdas/adapters/dynamo-job-store.js';
import { LIST_INDEX_ATTRIBUTES, LIVE_INDEX_ATTRIBUTES, TABLE_KEYS } from '../../../lambdas/config/table.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '../../../lambdas/local/dynamodb-local.js';

const keys = (partition: string, sort: string) => [
  { AttributeName: partition, KeyType: 'HASH' as const },
  { AttributeName: sort, KeyType: 'RANGE' as const },
];

/** The jobs table as the stack defines it: PK/SK, the list index GSI1 and the sparse live index GSI2, on demand. */
async function createJobsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const k = TABLE_KEYS;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        k.partition,
        k.sort,
        k.listPartition,
        k.listSort,
        k.livePartition,
        k.liveSort,
      ].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: keys(k.partition, k.sort),
      GlobalSecondaryIndexes: [
        {
          IndexName: k.listIndex,
          KeySchema: keys(k.listPartition, k.listSort),
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: LIST_INDEX_ATTRIBUTES },
        },
        {
          IndexName: k.liveIndex,
          KeySchema: keys(k.livePartition, k.liveSort),
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: LIVE_INDEX_ATTRIBUTES },
        },
      ],
    }),
  );
}

/**
 * A DynamoDB Local (in memory, started as the local stack starts it) holding the jobs table for the
 * calling test file: started (and the table made) before its tests, with `ready` handed a document
 * client marshalling as the store's does, and stopped after them.
 */
export function useJobsTable(tableName: string, ready: (doc: DynamoDBDocumentClient) => void): void {
  let local: DynamoDbLocal | undefined;
  let client: DynamoDBClient | undefined;
  let killOnExit: (() => void) | undefined;
  beforeAll(async () => {
    local = await startDynamoDbLocal({ dataDir: tmpdir(), inMemory: true });
    // Java runs in its own process group: a test process that dies without afterAll still ends it.
    const pid = local.pid;
    killOnExit = () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    process.once('exit', killOnExit);
    client = new DynamoDBClient({
      endpoint: local.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    await createJobsTable(client, tableName);
    ready(DynamoDBDocumentClient.from(client, { marshallOptions: { ...MARSHALL_OPTIONS } }));
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await local?.stop();
    if (killOnExit) process.off('exit', killOnExit);
  });
}
