import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { countDynamoRequests } from '../../../bench/ddb-counter.js';
import { TABLE_KEYS } from '../../../lambdas/config/table.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-counter-test';

let doc: DynamoDBDocumentClient;
useJobsTable(TABLE, (client) => {
  doc = client;
});

describe('the bench request counter', () => {
  it('counts the requests of every client it is given, with the write units DynamoDB reports for the table and each index', async () => {
    // Handlers and the workflow's DynamoDB tasks send on clients of their own, as the local stack does.
    const handlers = doc as unknown as DynamoDBClient;
    const { protocol, hostname, port } = await doc.config.endpoint!();
    const workflow = new DynamoDBClient({
      endpoint: `${protocol}//${hostname}:${port}`,
      region: await doc.config.region(),
      credentials: await doc.config.credentials(),
    });
    const counter = countDynamoRequests(handlers, workflow);
    const Key = { PK: 'COUNTER#t', SK: 'JOB#1' };
    const before = counter.snapshot();

    // In the list index: one unit for the table and one for the index.
    await doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...Key,
          [TABLE_KEYS.listPartition]: 'TENANT#t',
          [TABLE_KEYS.listSort]: '1',
          status: 'pending',
        },
      }),
    );
    // An attribute the index does not project: the table's unit only.
    await workflow.send(
      new UpdateCommand({
        TableName: TABLE,
        Key,
        UpdateExpression: 'SET leaseUntil = :at',
        ExpressionAttributeValues: { ':at': 1 },
      }) as never,
    );
    await workflow.send(new GetCommand({ TableName: TABLE, Key, ConsistentRead: true }) as never);

    expect(counter.since(before)).toEqual({ writes: 2, writeUnits: 3, reads: 1, consistentReads: 1 });
    workflow.destroy();
  });
});
