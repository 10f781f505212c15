import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localDataDir, readLocalEndpoints, takeFlag } from '../../../bin/cli-args.js';
import { LOCAL_ENDPOINTS_FILE } from '../../../lambdas/local/cli-endpoints.js';

describe('operator CLI arguments', () => {
  it('takes a flag with its value out of the arguments, and tells a bare flag from an absent one', () => {
    const args = ['list', '--local', 'dir', '--table', '--json'];
    expect(takeFlag(args, '--local')).toBe('dir');
    expect(takeFlag(args, '--table')).toBe('');
    expect(takeFlag(args, '--queue')).toBeUndefined();
    expect(args).toEqual(['list', '--json']);
  });

  it('finds the local data dir in the flag, then AGENT_JOBS_DATA_DIR, then .data', () => {
    expect(localDataDir('mine', { AGENT_JOBS_DATA_DIR: 'env-dir' })).toBe('mine');
    expect(localDataDir('', { AGENT_JOBS_DATA_DIR: 'env-dir' })).toBe('env-dir');
    expect(localDataDir('', {})).toBe('.data');
  });

  it('reads the endpoints the local stack wrote to its data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-jobs-cli-args-'));
    try {
      const file = {
        tableName: 't',
        jobDlqUrl: 'q1',
        startDlqUrl: 'q2',
        endpoints: { dynamodb: 'http://127.0.0.1:1', sqs: 'http://127.0.0.1:2' },
        region: 'us-east-1',
      };
      await writeFile(join(dir, LOCAL_ENDPOINTS_FILE), JSON.stringify(file));
      expect(await readLocalEndpoints(dir)).toEqual(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
