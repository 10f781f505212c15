import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, stopOrphanedDynamoDbLocal } from '../../../lambdas/local/dynamodb-local.js';

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
