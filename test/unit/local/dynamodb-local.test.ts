import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startDynamoDbLocal,
  stopOrphanedDynamoDbLocal,
  WARM_UP_TABLE,
} from '../../../lambdas/local/dynamodb-local.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('DynamoDB Local left running by a parent killed with -9', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('is ended through the pid file on its data directory, and nothing else is touched', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-ddb-orphan-'));
    dirs.push(dataDir);
    // Never stopped, as when the process that started it was killed: Java runs in its own group.
    const { pid } = await startDynamoDbLocal({ dataDir });
    expect(Number(await readFile(join(dataDir, 'dynamodb.pid'), 'utf8'))).toBe(pid);
    expect(alive(pid)).toBe(true);

    await stopOrphanedDynamoDbLocal(dataDir);
    expect(alive(pid)).toBe(false);
    await expect(readFile(join(dataDir, 'dynamodb.pid'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    // Nothing left to end: a second call is a no-op.
    await stopOrphanedDynamoDbLocal(dataDir);
  }, 30_000);
});

describe('DynamoDB Local as it is handed out', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) {
      await stopOrphanedDynamoDbLocal(dir);
      await rm(dir, { recursive: true, force: true });
    }
  });
  const clientOf = (endpoint: string) =>
    new DynamoDBClient({
      endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  const tablesOf = async (endpoint: string) => {
    const client = clientOf(endpoint);
    try {
      return (await client.send(new ListTablesCommand({}))).TableNames;
    } finally {
      client.destroy();
    }
  };

  it('has run its expression warm-up on a scratch table and kept no table, even the one a crash left mid-warm-up', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-ddb-warm-up-'));
    dirs.push(dataDir);
    const first = await startDynamoDbLocal({ dataDir });
    expect(await tablesOf(first.endpoint)).toEqual([]);

    // As if killed between the warm-up's CreateTable and DeleteTable.
    const client = clientOf(first.endpoint);
    await client.send(new CreateTableCommand(WARM_UP_TABLE));
    client.destroy();
    expect(await tablesOf(first.endpoint)).toEqual([WARM_UP_TABLE.TableName]);
    await stopOrphanedDynamoDbLocal(dataDir);

    const second = await startDynamoDbLocal({ dataDir });
    expect(await tablesOf(second.endpoint)).toEqual([]);
    await second.stop();
  }, 60_000);
});
