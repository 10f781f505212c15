import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';

const EMULATOR_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../node_modules/amplify-dynamodb-simulator/emulator',
);

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface DynamoLocal {
  client: DynamoDBClient;
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts an in-memory DynamoDB Local on a free port and waits until it answers. */
export async function startDynamoLocal(timeoutMs = 45_000): Promise<DynamoLocal> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'java',
    [
      `-Djava.library.path=${resolve(EMULATOR_DIR, 'DynamoDBLocal_lib')}`,
      '-jar',
      'DynamoDBLocal.jar',
      '-inMemory',
      '-port',
      String(port),
    ],
    { cwd: EMULATOR_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  proc.stdout?.on('data', (d) => {
    output += String(d);
  });
  proc.stderr?.on('data', (d) => {
    output += String(d);
  });
  const exited = once(proc, 'exit');
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const stop = async () => {
    process.off('exit', killOnExit);
    client.destroy();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await exited;
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`DynamoDB Local exited early: ${output}`);
    try {
      await client.send(new ListTablesCommand({}));
      return { client, endpoint, stop };
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`DynamoDB Local did not start in time: ${(error as Error).message}\n${output}`, {
          cause: error,
        });
      }
      await sleep(250);
    }
  }
}

/** The jobs table as the stack defines it: PK/SK plus GSI1 (GSI1PK/GSI1SK), on demand. */
export async function createJobsTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'PK', AttributeType: 'S' },
        { AttributeName: 'SK', AttributeType: 'S' },
        { AttributeName: 'GSI1PK', AttributeType: 'S' },
        { AttributeName: 'GSI1SK', AttributeType: 'S' },
        { AttributeName: 'GSI2PK', AttributeType: 'S' },
        { AttributeName: 'GSI2SK', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'GSI1',
          KeySchema: [
            { AttributeName: 'GSI1PK', KeyType: 'HASH' },
            { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          // As the stack defines it: sparse, keys plus what the sweep reads.
          IndexName: 'GSI2',
          KeySchema: [
            { AttributeName: 'GSI2PK', KeyType: 'HASH' },
            { AttributeName: 'GSI2SK', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: ['tenant', 'id', 'status', 'executionName', 'createdAt'],
          },
        },
      ],
    }),
  );
}

/**
 * A DynamoDB Local holding the jobs table for the calling test file: started (and the table made)
 * before its tests, with `ready` handed a document client marshalling as the store's does, and
 * stopped after them.
 */
export function useJobsTable(tableName: string, ready: (doc: DynamoDBDocumentClient) => void): void {
  let local: DynamoLocal | undefined;
  beforeAll(async () => {
    local = await startDynamoLocal();
    await createJobsTable(local.client, tableName);
    ready(
      DynamoDBDocumentClient.from(local.client, {
        marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
  });
}
