import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { build } from 'esbuild';
import { beforeEach, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../../lambdas/adapters/workflow-client.js';
import { executionArn } from '../../../lambdas/config/workflow.js';
import { STATE_MACHINE_ARN } from '../support/fixtures.js';

const sfn = mockClient(SFNClient);
const client = new WorkflowClient(STATE_MACHINE_ARN, new SFNClient({ region: 'eu-west-1' }));
const INPUT = { tenant: 'acme', jobId: 'job_1', pk: 'T#acme#J#job_1' };

beforeEach(() => {
  sfn.reset();
});

describe('executionArn', () => {
  it('turns a state machine ARN and an execution name into the execution ARN', () => {
    expect(executionArn(STATE_MACHINE_ARN, 'job_1')).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:agent-jobs:job_1',
    );
  });
});

describe('WorkflowClient', () => {
  it('starts an execution named after the job with the JSON input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'x', startDate: new Date() });
    expect(await client.start('job_1', INPUT)).toBe('started');
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'job_1',
      input: JSON.stringify(INPUT),
    });
  });

  it('reports an execution that already exists instead of failing', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await client.start('job_1', INPUT)).toBe('already_started');
  });

  it('rethrows other start failures', async () => {
    const error = new StateMachineDoesNotExist({ message: 'gone', $metadata: {} });
    sfn.on(StartExecutionCommand).rejects(error);
    await expect(client.start('job_1', INPUT)).rejects.toBe(error);
  });

  it('stops the execution by its ARN with a JobCancelled error', async () => {
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    await client.stop('job_1-nx', 'cancelled by the API');
    expect(sfn.commandCalls(StopExecutionCommand)[0]?.args[0].input).toEqual({
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:agent-jobs:job_1-nx',
      error: 'JobCancelled',
      cause: 'cancelled by the API',
    });
  });

  it('tolerates stopping an execution that does not exist, but not other failures', async () => {
    sfn
      .on(StopExecutionCommand)
      .rejectsOnce(new ExecutionDoesNotExist({ message: 'none', $metadata: {} }))
      .rejects(new Error('denied'));
    await expect(client.stop('job_1', 'c')).resolves.toBeUndefined();
    await expect(client.stop('job_1', 'c')).rejects.toThrow('denied');
  });

  it('is active only when the state machine is ACTIVE', async () => {
    sfn
      .on(DescribeStateMachineCommand)
      .resolvesOnce({ status: 'ACTIVE' } as never)
      .resolvesOnce({ status: 'DELETING' } as never);
    expect(await client.isActive()).toBe(true);
    expect(await client.isActive()).toBe(false);
    expect(sfn.commandCalls(DescribeStateMachineCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
    });
  });

  it('still recognises the SDK errors when bundled and minified as deployed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'workflow-client-'));
    try {
      await build({
        entryPoints: [new URL('../../../lambdas/adapters/workflow-client.ts', import.meta.url).pathname],
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        mainFields: ['module', 'main'],
        banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
        outfile: join(dir, 'workflow-client.mjs'),
        logLevel: 'silent',
      });
      await writeFile(
        join(dir, 'probe.mjs'),
        `import { WorkflowClient } from './workflow-client.mjs';
const failing = (name) => ({ send: async () => { throw Object.assign(new Error(name), { name }); } });
const arn = ${JSON.stringify(STATE_MACHINE_ARN)};
const out = {};
out.start = await new WorkflowClient(arn, failing('ExecutionAlreadyExists')).start('n', {}).catch((e) => 'threw ' + e.name);
out.stop = await new WorkflowClient(arn, failing('ExecutionDoesNotExist')).stop('n', 'c').then(() => 'ok', (e) => 'threw ' + e.name);
out.other = await new WorkflowClient(arn, failing('AccessDeniedException')).start('n', {}).catch((e) => 'threw ' + e.name);
process.stdout.write(JSON.stringify(out));`,
      );
      const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'probe.mjs')], { cwd: dir });
      expect(JSON.parse(stdout)).toEqual({
        start: 'already_started',
        stop: 'ok',
        other: 'threw AccessDeniedException',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
