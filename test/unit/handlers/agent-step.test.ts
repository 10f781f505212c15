import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import type { AgentDefinition } from '../../../lambdas/agents/agent.js';
import { TransientStepError } from '../../../lambdas/agents/agent.js';
import { echoAgent } from '../../../lambdas/agents/echo.js';
import type { Job } from '../../../lambdas/domain/job.js';
import '../support/handler-env.js';
import { MAX_LARGE_VALUE_BYTES } from '../../../lambdas/domain/large-values.js';
import { JOB_ID, makeJob, storedJob, TENANT, VALUES_BUCKET } from '../support/fixtures.js';

const registry = vi.hoisted(() => ({ override: undefined as unknown }));
vi.mock('../../../lambdas/agents/registry.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../lambdas/agents/registry.js')>();
  return { ...actual, findAgent: (name: string) => (registry.override as never) ?? actual.findAgent(name) };
});

vi.mock('node:timers/promises', async (importOriginal) =>
  (await import('../support/timers-promises.js')).fakeable(
    await importOriginal<typeof import('node:timers/promises')>(),
  ),
);

const { handler } = await import('../../../lambdas/handlers/agent-step.js');
const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const NOW = new Date('2025-06-01T10:00:00.000Z');
const EVENT = { tenant: TENANT, jobId: JOB_ID };

interface Snapshot {
  job?: Partial<Job>;
  completedSteps?: number;
  agentState?: unknown;
  answer?: unknown;
}

function storeHas({ job = {}, completedSteps = 0, agentState, answer }: Snapshot) {
  const stored = makeJob({
    status: 'running',
    startedAt: new Date(NOW.getTime() - 1_000).toISOString(),
    progress: { fraction: completedSteps / 3, step: completedSteps, message: null },
    ...job,
  });
  ddb.on(GetCommand).resolves({
    Item: storedJob(stored, {
      completedSteps,
      ...(agentState === undefined ? {} : { agentState }),
      ...(answer === undefined ? {} : { answer }),
    }),
  });
}

/** The job's writes in order: plain updates, and the job's update in a step's transaction with its usage. */
const updates = () =>
  ddb
    .calls()
    .map((c) => c.args[0])
    .flatMap((command) => {
      if (command instanceof UpdateCommand) return [command.input];
      if (command instanceof TransactWriteCommand) return [command.input.TransactItems![0]!.Update!];
      return [];
    });

/** The usage increments that went with the job's writes. */
const tallies = () =>
  ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems![1]!.Update!);

const cancelled = (...reasons: string[]) =>
  new TransactionCanceledException({
    message: 'cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((Code) => ({ Code })),
  });

/** The job's condition refuses the step's write, plain or in a transaction (cancelled meanwhile). */
function jobRefusesWrites() {
  ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
  ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
}

function customAgent(
  step: AgentDefinition<unknown, unknown>['step'],
  over: Partial<AgentDefinition<unknown, unknown>> = {},
) {
  registry.override = {
    ...(echoAgent as unknown as AgentDefinition<unknown, unknown>),
    name: 'custom',
    step,
    ...over,
  };
}

/** Agents whose input schema takes anything, for jobs with a large input. */
const ANY_INPUT = { inputSchema: z.unknown() };

beforeEach(() => {
  ddb.reset();
  s3.reset();
  ddb.on(UpdateCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  sfn.reset();
  sfn.on(SendTaskHeartbeatCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  registry.override = undefined;
  vi.useFakeTimers({ now: NOW });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("agent step: the tenant's daily usage", () => {
  const DAY_KEY = { PK: `TENANT#${TENANT}`, SK: 'USAGE#2025-06-01' };
  const answered = { model: 'gpt-4o-mini', usage: { inputTokens: 11, outputTokens: 7 } };

  it("counts the job with its first recorded step, in one transaction with the job's write", async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 0 } }, completedSteps: 0 });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(updates()[0]).toMatchObject({
      ConditionExpression: expect.stringContaining('completedSteps = :expected'),
    });
    expect(tallies()).toEqual([
      expect.objectContaining({
        Key: DAY_KEY,
        UpdateExpression: expect.stringMatching(/^ADD jobs :jobs, modelCalls :modelCalls, .* SET /),
        ExpressionAttributeValues: expect.objectContaining({
          ':jobs': 1,
          ':modelCalls': 0,
          ':tenant': TENANT,
          ':day': '2025-06-01',
          ':ttl': Date.parse('2026-07-07T00:00:00Z') / 1000,
        }),
      }),
    ]);
  });

  it('counts nothing for a later step without a model call: a plain write', async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 0 } }, completedSteps: 1, agentState: {} });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(updates()).toHaveLength(1);
  });

  it('counts each answered model call with its tokens and price', async () => {
    customAgent(async () => ({ type: 'continue', state: {}, modelCall: answered }), ANY_INPUT);
    storeHas({ job: { agent: 'custom', input: {} }, completedSteps: 2 });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(tallies()[0]?.ExpressionAttributeValues).toMatchObject({
      ':jobs': 0,
      ':modelCalls': 1,
      ':inputTokens': 11,
      ':outputTokens': 7,
      ':costNanoUsd': 5_850,
      ':unpricedCalls': 0,
    });
  });

  it('does not count a redriven job again', async () => {
    customAgent(async () => ({ type: 'continue', state: {} }), ANY_INPUT);
    storeHas({ job: { agent: 'custom', input: {}, attempt: 2 }, completedSteps: 0 });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(tallies()).toHaveLength(0);
  });

  it('leaves out a malformed model call report rather than storing it', async () => {
    customAgent(
      async () => ({
        type: 'continue',
        state: {},
        modelCall: { model: 'm', usage: { inputTokens: -1, outputTokens: 2 } },
      }),
      ANY_INPUT,
    );
    storeHas({ job: { agent: 'custom', input: {} }, completedSteps: 2 });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(tallies()).toHaveLength(0);
  });

  it('tries again when the day was held by another transaction, and counts once', async () => {
    customAgent(async () => ({ type: 'done', result: 1, modelCall: answered }), ANY_INPUT);
    storeHas({ job: { agent: 'custom', input: {} }, completedSteps: 2 });
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('None', 'TransactionConflict')).resolves({});
    const outcome = handler(EVENT);
    await vi.runAllTimersAsync();
    expect(await outcome).toEqual({ outcome: 'done' });
    expect(tallies()).toHaveLength(2);
  });
});

describe('agent step with the echo agent', () => {
  it('continue: checkpoints the step conditionally on the previous step count', async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 0 } }, completedSteps: 0 });

    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });

    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' },
      ConsistentRead: true,
    });
    expect(updates()).toHaveLength(1);
    expect(updates()[0]).toMatchObject({
      Key: { PK: jobPk(TENANT, JOB_ID), SK: 'JOB' },
      ConditionExpression: '#status = :from0 AND completedSteps = :expected',
      ExpressionAttributeValues: {
        ':from0': 'running',
        ':expected': 0,
        ':steps': 1,
        ':progress': { fraction: 1 / 3, step: 1, message: 'step 1 of 3' },
        ':state': { asked: false },
        ':at': NOW.toISOString(),
      },
    });
  });

  it('continue from a checkpoint passes the saved state on', async () => {
    storeHas({
      job: { input: { message: 'm', steps: 4, stepMs: 0 } },
      completedSteps: 2,
      agentState: { asked: false },
    });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(updates()[0]?.ExpressionAttributeValues).toMatchObject({
      ':expected': 2,
      ':steps': 3,
      ':progress': { fraction: 0.75, step: 3 },
    });
  });

  it('done: the last step writes succeeded with the result and full progress', async () => {
    storeHas({
      job: { input: { message: 'hello', steps: 3, stepMs: 0 } },
      completedSteps: 2,
      agentState: { asked: false },
    });

    expect(await handler(EVENT)).toEqual({ outcome: 'done' });

    expect(updates()).toHaveLength(1);
    expect(updates()[0]).toMatchObject({
      ConditionExpression: '#status = :from0 AND completedSteps = :expected',
      ExpressionAttributeValues: {
        ':from0': 'running',
        ':succeeded': 'succeeded',
        ':result': { message: 'hello', steps: 3, input: null },
        ':progress': { fraction: 1, step: 3, message: 'step 3 of 3' },
        ':expected': 2,
        ':steps': 3,
      },
    });
  });

  it('stopped when the job was cancelled between load and write', async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 0 } }, completedSteps: 0 });
    jobRefusesWrites();
    expect(await handler(EVENT)).toEqual({ outcome: 'stopped' });
  });

  it('failAtStep k: fails with agent_error at step k, writing nothing so progress stays at k-1', async () => {
    storeHas({ job: { input: { message: 'm', steps: 5, stepMs: 0, failAtStep: 3 } }, completedSteps: 2 });

    const out = await handler(EVENT);

    expect(out).toEqual({
      outcome: 'failed',
      error: { code: 'agent_error', message: expect.stringContaining('step 3') },
    });
    expect(updates()).toHaveLength(0);
  });

  it('steps before failAtStep complete normally', async () => {
    storeHas({ job: { input: { message: 'm', steps: 5, stepMs: 0, failAtStep: 3 } }, completedSteps: 1 });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(updates()[0]?.ExpressionAttributeValues).toMatchObject({ ':steps': 2, ':progress': { step: 2 } });
  });

  it("a step longer than echo's 10 s step timeout fails with step_timeout and writes nothing", async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 15_000 } }, completedSteps: 0 });
    let settled = false;
    const run = handler(EVENT).finally(() => {
      settled = true;
    });

    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);

    expect(await run).toEqual({
      outcome: 'failed',
      error: { code: 'step_timeout', message: 'step 1 did not finish in time' },
    });
    expect(updates()).toHaveLength(0);
  });

  it('a step within the step timeout completes', async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 9_000 } }, completedSteps: 0 });
    const run = handler(EVENT);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(await run).toEqual({ outcome: 'continue' });
  });

  it('job_timeout without running the step when the job deadline has passed', async () => {
    storeHas({
      job: {
        input: { message: 'm', steps: 3, stepMs: 0 },
        timeoutSeconds: 60,
        startedAt: new Date(NOW.getTime() - 60_000).toISOString(),
      },
      completedSteps: 1,
    });
    expect(await handler(EVENT)).toEqual({
      outcome: 'failed',
      error: { code: 'job_timeout', message: expect.any(String) },
    });
    expect(updates()).toHaveLength(0);
  });

  it('job_timeout when the job deadline falls inside the step', async () => {
    storeHas({
      job: {
        input: { message: 'm', steps: 3, stepMs: 5_000 },
        timeoutSeconds: 60,
        startedAt: new Date(NOW.getTime() - 57_000).toISOString(),
      },
      completedSteps: 1,
    });
    const run = handler(EVENT);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(await run).toEqual({
      outcome: 'failed',
      error: { code: 'job_timeout', message: expect.any(String) },
    });
    expect(updates()).toHaveLength(0);
  });

  it('the job deadline counts from createdAt when startedAt is missing', async () => {
    storeHas({
      job: {
        input: { message: 'm', stepMs: 0 },
        timeoutSeconds: 10,
        startedAt: null,
        createdAt: new Date(NOW.getTime() - 11_000).toISOString(),
      },
    });
    expect((await handler(EVENT)).error?.code).toBe('job_timeout');
  });

  it.each(['cancelled', 'succeeded', 'failed', 'pending'] as const)(
    'a %s job is stopped with no write',
    async (status) => {
      storeHas({ job: { status, input: { message: 'm', stepMs: 0 } } });
      expect(await handler(EVENT)).toEqual({ outcome: 'stopped' });
      expect(updates()).toHaveLength(0);
    },
  );

  it('a job that no longer exists is stopped', async () => {
    ddb.on(GetCommand).resolves({});
    expect(await handler(EVENT)).toEqual({ outcome: 'stopped' });
    expect(updates()).toHaveLength(0);
  });

  it('askInput checkpoints, moves the job to input_required in one write and returns how long to wait', async () => {
    storeHas({ job: { input: { message: 'm', stepMs: 0, askInput: 'Name?' }, timeoutSeconds: 3_600 } });
    expect(await handler(EVENT)).toEqual({
      outcome: 'input_required',
      inputTimeoutSeconds: echoAgent.inputTimeout!.defaultSeconds,
      onInputTimeout: 'input_timeout',
    });
    expect(updates()).toHaveLength(1);
    expect(updates()[0]).toMatchObject({
      ConditionExpression: '#status = :from0 AND completedSteps = :expected',
      ExpressionAttributeValues: {
        ':from0': 'running',
        ':waiting': 'input_required',
        ':request': { prompt: 'Name?' },
        ':state': { asked: true },
        ':steps': 1,
        ':expected': 0,
        ':eventTypes': ['job.progress', 'job.input_required'],
      },
    });
  });

  it("waits at most until the job's deadline, and then fails it with job_timeout", async () => {
    storeHas({
      job: {
        input: { message: 'm', stepMs: 0, askInput: 'Name?' },
        timeoutSeconds: 61,
        inputTimeoutSeconds: 300,
      },
    });
    // Started a second before NOW: 60 s of the job are left.
    expect(await handler(EVENT)).toMatchObject({ inputTimeoutSeconds: 60, onInputTimeout: 'job_timeout' });
  });

  it("takes the job's own inputTimeoutSeconds over the agent's default", async () => {
    storeHas({
      job: {
        input: { message: 'm', stepMs: 0, askInput: 'Name?' },
        timeoutSeconds: 3_600,
        inputTimeoutSeconds: 5,
      },
    });
    expect(await handler(EVENT)).toMatchObject({ inputTimeoutSeconds: 5, onInputTimeout: 'input_timeout' });
  });

  it('stores the schema of an input request and refuses one that cannot be enforced', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
    customAgent(async () => ({ type: 'input_required', prompt: 'OK?', schema, state: {} }));
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    await handler(EVENT);
    expect(updates()[0]?.ExpressionAttributeValues?.[':request']).toEqual({
      type: 'question',
      prompt: 'OK?',
      schema,
    });

    ddb.resetHistory();
    customAgent(async () => ({
      type: 'input_required',
      prompt: 'OK?',
      schema: { type: 'no-such-type' },
      state: {},
    }));
    expect(await handler(EVENT)).toMatchObject({ outcome: 'failed', error: { code: 'agent_error' } });
    expect(updates()).toHaveLength(0);
  });

  it('an input request on a job cancelled meanwhile stops quietly', async () => {
    storeHas({ job: { input: { message: 'm', stepMs: 0, askInput: 'Name?' } } });
    jobRefusesWrites();
    expect(await handler(EVENT)).toEqual({ outcome: 'stopped' });
  });

  it('an agent that is not deployed fails the job', async () => {
    storeHas({ job: { agent: 'gone', input: {} } });
    expect(await handler(EVENT)).toEqual({
      outcome: 'failed',
      error: { code: 'agent_error', message: expect.stringContaining('gone') },
    });
  });

  it('a stored input that no longer matches the schema fails the job', async () => {
    storeHas({ job: { input: { text: 'm' } } });
    expect((await handler(EVENT)).error?.code).toBe('agent_error');
    expect(updates()).toHaveLength(0);
  });

  it.each([
    ['an unknown outcome type', { type: 'finished' }],
    ['no outcome at all', undefined],
    ['a result that is not JSON', { type: 'done', result: { n: 10n } }],
    ['a state that is not JSON', { type: 'continue', state: { n: 10n } }],
  ])('an agent returning %s fails the job with agent_error and writes nothing', async (_name, outcome) => {
    storeHas({});
    customAgent(async () => outcome as never);
    const result = await handler(EVENT);
    expect(result).toMatchObject({ outcome: 'failed', error: { code: 'agent_error' } });
    expect(updates()).toEqual([]);
  });
});

describe('agent step with other agents', () => {
  it('rethrows TransientStepError so the workflow retries the step', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => {
      throw new TransientStepError('provider 503');
    });
    await expect(handler(EVENT)).rejects.toBeInstanceOf(TransientStepError);
    expect(updates()).toHaveLength(0);
  });

  it('turns any other throw into agent_error with a message that holds none of the exception text', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => {
      throw new TypeError('cannot read x of undefined (db password hunter2)');
    });
    expect(await handler(EVENT)).toEqual({
      outcome: 'failed',
      error: { code: 'agent_error', message: 'step 1 failed: the agent raised an unexpected error' },
    });
    expect(updates()).toHaveLength(0);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'boom'],
    ['a number', 42],
  ])('an agent that throws %s fails the job as agent_error', async (_, thrown) => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => {
      throw thrown;
    });
    expect(await handler(EVENT)).toEqual({
      outcome: 'failed',
      error: { code: 'agent_error', message: 'step 1 failed: the agent raised an unexpected error' },
    });
  });

  it('cuts a long TransientStepError message, which travels in the workflow error cause', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => {
      throw new TransientStepError('e'.repeat(300_000));
    });
    const thrown = await handler(EVENT).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientStepError);
    expect((thrown as Error).message).toHaveLength(1_000);
  });

  it('ends the step only once the work it handed over is done, after recording its outcome', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    let finish!: () => void;
    customAgent(async (ctx) => {
      ctx.alongside(new Promise<void>((resolve) => (finish = resolve)));
      return { type: 'continue', state: { n: 1 } };
    });
    let ended = false;
    const result = handler(EVENT).finally(() => (ended = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(updates()).toHaveLength(1);
    expect(ended).toBe(false);
    finish();
    expect(await result).toEqual({ outcome: 'continue' });
  });

  it('keeps the outcome of a step whose handed-over work failed, and waits for it when the step throws', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async (ctx) => {
      ctx.alongside(Promise.reject(new Error('bucket unreachable')));
      return { type: 'continue', state: { n: 1 } };
    });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(updates()).toHaveLength(1);

    let settled = false;
    customAgent(async (ctx) => {
      ctx.alongside(sleep(50).then(() => (settled = true)));
      throw new TransientStepError('provider 503');
    });
    const thrown = handler(EVENT).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await thrown).toBeInstanceOf(TransientStepError);
    expect(settled).toBe(true);
  });

  it("records the step's last events with its checkpoint, and refuses events that are not step events", async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    const events = [{ type: 'job.tool_call' as const, data: { step: 1, id: 'c', name: 'f', arguments: {} } }];
    customAgent(async () => ({ type: 'continue', state: { n: 1 }, events }));
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    expect(updates()[0]?.ExpressionAttributeValues).toMatchObject({
      ':eventTypes': ['job.tool_call', 'job.progress'],
      ':eventData': [events[0]!.data],
    });

    ddb.resetHistory();
    customAgent(async () => ({
      type: 'continue',
      state: { n: 1 },
      events: [{ type: 'job.succeeded', data: {} }] as never,
    }));
    expect(await handler(EVENT)).toEqual({
      outcome: 'failed',
      error: { code: 'agent_error', message: 'step 1 returned events that are not step events' },
    });
    expect(updates()).toHaveLength(0);
  });

  it('passes a fail code chosen by the agent through', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => ({ type: 'fail', message: 'no model', code: 'model_unavailable' }));
    expect(await handler(EVENT)).toEqual({
      outcome: 'failed',
      error: { code: 'model_unavailable', message: 'no model' },
    });
  });

  it('cuts a long fail message to 1000 characters', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => ({ type: 'fail', message: 'f'.repeat(400_000) }));
    const result = await handler(EVENT);
    expect(result.error).toEqual({ code: 'agent_error', message: 'f'.repeat(1_000) });
  });

  it.each([
    ['a code agents may not use', { type: 'fail', message: 'x', code: 'internal_error' }],
    ['an unknown code', { type: 'fail', message: 'x', code: 'made_up' }],
    ['no message', { type: 'fail', code: 'agent_error' }],
    ['a message that is not a string', { type: 'fail', message: { secret: 1 } }],
  ])('a fail with %s fails the job as agent_error', async (_, outcome) => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => outcome as never);
    const result = await handler(EVENT);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('agent_error');
    expect(result.error?.message).toMatch(/^step 1 failed with|^step 1 failed without/);
  });

  it('stores a 1 MiB result in the values bucket and its reference in the job item', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    s3.on(PutObjectCommand).resolves({});
    customAgent(async () => ({ type: 'done', result: 'x'.repeat(1024 * 1024) }));
    expect(await handler(EVENT)).toEqual({ outcome: 'done' });
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: VALUES_BUCKET, Key: expect.stringMatching(/\/result\//) });
    expect(JSON.parse(put.Body as string)).toHaveLength(1024 * 1024);
    const update = updates()[0]!;
    expect(update.ExpressionAttributeNames).toMatchObject({
      '#result': 'resultRef',
      '#resultOther': 'result',
    });
    expect(update.ExpressionAttributeValues?.[':result']).toEqual({ key: put.Key, bytes: 1024 * 1024 + 2 });
    expect(update.UpdateExpression).toMatch(/REMOVE #resultOther, agentState, agentStateRef/);
  });

  it('keeps a small result in the job item', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => ({ type: 'done', result: { ok: true } }));
    expect(await handler(EVENT)).toEqual({ outcome: 'done' });
    expect(updates()[0]?.ExpressionAttributeNames).toMatchObject({ '#result': 'result' });
    expect(updates()[0]?.ExpressionAttributeValues?.[':result']).toEqual({ ok: true });
    expect(s3.calls()).toHaveLength(0);
  });

  it.each([
    ['result', { type: 'done', result: 'x'.repeat(MAX_LARGE_VALUE_BYTES) }, 'the result is'],
    ['state', { type: 'continue', state: 's'.repeat(MAX_LARGE_VALUE_BYTES) }, 'the step state is'],
    [
      'state of an input request',
      { type: 'input_required', prompt: 'ok?', state: 's'.repeat(MAX_LARGE_VALUE_BYTES) },
      'the step state is',
    ],
  ])('fails with agent_error, storing nothing, when the %s is over 5 MiB', async (_, outcome, what) => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => outcome as never);
    const result = await handler(EVENT);
    expect(result.error).toEqual({
      code: 'agent_error',
      message: `step 1: ${what} too large to store: ${MAX_LARGE_VALUE_BYTES + 2} bytes, over the ${MAX_LARGE_VALUE_BYTES}-byte limit`,
    });
    expect(updates()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });

  it('gives the agent its large input, state and answer read back from the values bucket', async () => {
    const input = { message: 'i'.repeat(10_000) };
    const refs = {
      input: 'jobs/t/j/input/a.json',
      agentState: 'jobs/t/j/agentState/b.json',
      answer: 'jobs/t/j/answer/c.json',
    };
    const values: Record<string, unknown> = {
      [refs.input]: input,
      [refs.agentState]: { s: 's'.repeat(5_000) },
      [refs.answer]: 'a'.repeat(5_000),
    };
    s3.on(GetObjectCommand).callsFake(({ Key }: { Key: string }) => ({
      Body: { transformToString: async () => JSON.stringify(values[Key]) },
    }));
    const stored = storedJob(
      makeJob({ agent: 'custom', status: 'running', startedAt: NOW.toISOString(), input: null }),
      {
        completedSteps: 1,
        inputRef: { key: refs.input, bytes: 1 },
        agentStateRef: { key: refs.agentState, bytes: 1 },
        answerRef: { key: refs.answer, bytes: 1 },
      },
    );
    ddb.on(GetCommand).resolves({ Item: stored });
    const seen: unknown[] = [];
    customAgent(async (ctx) => {
      seen.push(ctx.input, ctx.state, ctx.answer);
      return { type: 'done', result: null };
    }, ANY_INPUT);
    expect(await handler(EVENT)).toEqual({ outcome: 'done' });
    expect(seen).toEqual([input, values[refs.agentState], values[refs.answer]]);
  });

  it('refuses a state DynamoDB could not store (nested past 32 levels) with agent_error', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    customAgent(async () => ({ type: 'continue', state: deep }));
    const result = await handler(EVENT);
    expect(result.error?.code).toBe('agent_error');
    expect(result.error?.message).toMatch(/cannot be stored/);
    expect(updates()).toHaveLength(0);
  });

  it('refuses a state with an object key DynamoDB cannot store (64 KB or more) with agent_error', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async () => ({ type: 'continue', state: { ['k'.repeat(70_000)]: 1 } }));
    expect((await handler(EVENT)).error?.message).toMatch(/object keys must be at most 65535 bytes/);
    expect(updates()).toHaveLength(0);
  });

  it('refuses an input request schema over 16 KiB', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    const schema = { type: 'object', description: 'd'.repeat(20_000) };
    customAgent(async () => ({ type: 'input_required', prompt: 'ok?', schema, state: null }));
    expect((await handler(EVENT)).error?.code).toBe('agent_error');
    expect(updates()).toHaveLength(0);
  });

  it('clamps reported progress to 0..1 and bounds the message', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    customAgent(async (ctx) => {
      ctx.progress(7, 'm'.repeat(900));
      return { type: 'continue', state: { n: 1 } };
    });
    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });
    const progress = updates()[0]?.ExpressionAttributeValues?.[':progress'] as {
      fraction: number;
      message: string;
    };
    expect(progress.fraction).toBe(1);
    expect(progress.message).toHaveLength(500);
  });

  it('aborts the agent signal at the step timeout', async () => {
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    let signal: AbortSignal | undefined;
    customAgent(
      (ctx) => {
        signal = ctx.signal;
        return new Promise(() => undefined);
      },
      { stepTimeoutSeconds: 2 },
    );
    const run = handler(EVENT);
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await run).error?.code).toBe('step_timeout');
    expect(signal?.aborted).toBe(true);
  });
});

describe('agent step in callback form (agents with heartbeatSeconds)', () => {
  const TOKEN = 'task-token-1';
  const CALLBACK = { ...EVENT, taskToken: TOKEN };
  const HEARTBEAT_SECONDS = 4;

  const heartbeats = () => sfn.commandCalls(SendTaskHeartbeatCommand).map((c) => c.args[0].input);
  const successes = () =>
    sfn.commandCalls(SendTaskSuccessCommand).map((c) => {
      expect(c.args[0].input.taskToken).toBe(TOKEN);
      return JSON.parse(c.args[0].input.output!) as unknown;
    });
  const failures = () => sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);
  const taskEnded = () => new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} });

  function heartbeatAgent(
    step: AgentDefinition<unknown, unknown>['step'],
    over: Partial<AgentDefinition<unknown, unknown>> = {},
  ) {
    customAgent(step, { heartbeatSeconds: HEARTBEAT_SECONDS, stepTimeoutSeconds: 60, ...over });
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
  }

  it("the plain step hands a heartbeat agent's step to the callback form without running it", async () => {
    const step = vi.fn();
    heartbeatAgent(step);

    expect(await handler(EVENT)).toEqual({ outcome: 'continue', heartbeatSeconds: HEARTBEAT_SECONDS });

    expect(step).not.toHaveBeenCalled();
    expect(updates()).toEqual([]);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('opens with a heartbeat, runs the step and reports the result with SendTaskSuccess', async () => {
    heartbeatAgent(async () => ({ type: 'continue', state: { n: 1 } }));

    expect(await handler(CALLBACK)).toBeUndefined();

    expect(heartbeats()).toEqual([{ taskToken: TOKEN }]);
    // The next step stays in the callback form.
    expect(successes()).toEqual([{ outcome: 'continue', heartbeatSeconds: HEARTBEAT_SECONDS }]);
    expect(failures()).toEqual([]);
    expect(updates()).toHaveLength(1);
    expect(updates()[0]?.ExpressionAttributeValues).toMatchObject({ ':steps': 1, ':state': { n: 1 } });
  });

  it('folds frequent liveness signals into one heartbeat per quarter of heartbeatSeconds', async () => {
    heartbeatAgent(async (ctx) => {
      for (let i = 0; i < 1_000; i++) ctx.heartbeat();
      await sleep(2_500);
      return { type: 'done', result: 'ok' };
    });
    const run = handler(CALLBACK);
    await vi.advanceTimersByTimeAsync(2_500);
    await run;

    // The opening heartbeat, then the burst folded into one a quarter of 4 s later.
    expect(heartbeats()).toHaveLength(2);
    expect(successes()).toEqual([{ outcome: 'done' }]);
  });

  it('counts reported progress as a sign of life', async () => {
    heartbeatAgent(async (ctx) => {
      await sleep(1_500);
      ctx.progress(0.5, 'half way');
      await sleep(1_000);
      return { type: 'done', result: 'ok' };
    });
    const run = handler(CALLBACK);
    await vi.advanceTimersByTimeAsync(2_500);
    await run;

    expect(heartbeats()).toHaveLength(2);
  });

  it('sends no heartbeat on its own while the agent is silent, so a hung step times out', async () => {
    heartbeatAgent(async () => {
      await sleep(30_000);
      return { type: 'done', result: 'late' };
    });
    const run = handler(CALLBACK);
    await vi.advanceTimersByTimeAsync(30_000);
    await run;

    expect(heartbeats()).toHaveLength(1);
  });

  it('runs nothing when the task has already ended (an event held back by Lambda)', async () => {
    const step = vi.fn();
    heartbeatAgent(step);
    sfn.on(SendTaskHeartbeatCommand).rejects(taskEnded());

    expect(await handler(CALLBACK)).toBeUndefined();

    expect(step).not.toHaveBeenCalled();
    expect(updates()).toEqual([]);
    expect(successes()).toEqual([]);
    expect(failures()).toEqual([]);
  });

  it('reads the job while the opening heartbeat is in flight, not after it', async () => {
    heartbeatAgent(async () => ({ type: 'done', result: 'ok' }));
    let answerHeartbeat!: () => void;
    sfn
      .on(SendTaskHeartbeatCommand)
      .callsFake(() => new Promise((resolve) => (answerHeartbeat = () => resolve({}))));
    const run = handler(CALLBACK);
    await vi.advanceTimersByTimeAsync(0);

    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(updates()).toEqual([]);
    answerHeartbeat();
    await run;
    expect(successes()).toEqual([{ outcome: 'done' }]);
  });

  it('reports nothing when the job cannot be read and the task had already ended', async () => {
    const step = vi.fn();
    heartbeatAgent(step);
    ddb.on(GetCommand).rejects(new Error('read failed'));
    sfn.on(SendTaskHeartbeatCommand).rejects(taskEnded());

    expect(await handler(CALLBACK)).toBeUndefined();

    expect(step).not.toHaveBeenCalled();
    expect(successes()).toEqual([]);
    expect(failures()).toEqual([]);
  });

  it('aborts the agent and records nothing once a heartbeat finds the task ended (heartbeat timeout, execution stopped)', async () => {
    let signal: AbortSignal | undefined;
    heartbeatAgent(async (ctx) => {
      signal = ctx.signal;
      await sleep(2_000);
      ctx.heartbeat();
      await sleep(60_000, undefined, { signal: ctx.signal });
      return { type: 'done', result: 'too late' };
    });
    sfn.on(SendTaskHeartbeatCommand).resolvesOnce({}).rejects(taskEnded());
    const run = handler(CALLBACK);
    await vi.advanceTimersByTimeAsync(2_000);

    expect(await run).toBeUndefined();
    expect(signal?.aborted).toBe(true);
    expect(updates()).toEqual([]);
    expect(successes()).toEqual([]);
    expect(failures()).toEqual([]);
  });

  it('keeps the step timeout: heartbeats do not extend a step, and the timeout is reported as a result', async () => {
    heartbeatAgent(
      async (ctx) => {
        for (;;) {
          ctx.heartbeat();
          await sleep(500, undefined, { signal: ctx.signal });
        }
      },
      { stepTimeoutSeconds: 10 },
    );
    const run = handler(CALLBACK);
    await vi.advanceTimersByTimeAsync(10_000);
    await run;

    expect(successes()).toEqual([
      { outcome: 'failed', error: { code: 'step_timeout', message: 'step 1 did not finish in time' } },
    ]);
    expect(updates()).toEqual([]);
  });

  it('reports an agent failure as a result, so the workflow does not retry it', async () => {
    heartbeatAgent(async () => ({ type: 'fail', message: 'no', code: 'model_unavailable' }));
    await handler(CALLBACK);
    expect(successes()).toEqual([{ outcome: 'failed', error: { code: 'model_unavailable', message: 'no' } }]);
    expect(failures()).toEqual([]);
  });

  it('reports TransientStepError as a task failure of that name, which AgentStepWithHeartbeat retries', async () => {
    heartbeatAgent(async () => {
      throw new TransientStepError('provider 503');
    });

    expect(await handler(CALLBACK)).toBeUndefined();

    expect(failures()).toEqual([
      {
        taskToken: TOKEN,
        error: 'TransientStepError',
        cause: JSON.stringify({ errorType: 'TransientStepError', errorMessage: 'provider 503' }),
      },
    ]);
    expect(successes()).toEqual([]);
    expect(updates()).toEqual([]);
  });

  it('reports an unexpected error with the name the plain step would throw', async () => {
    heartbeatAgent(async () => ({ type: 'done', result: 'x' }));
    const outage = Object.assign(new Error('rate exceeded'), {
      name: 'ProvisionedThroughputExceededException',
    });
    ddb.on(UpdateCommand).rejects(outage);
    ddb.on(TransactWriteCommand).rejects(outage);

    await handler(CALLBACK);

    expect(failures()).toEqual([
      expect.objectContaining({ error: 'ProvisionedThroughputExceededException' }),
    ]);
  });

  it('fails the invocation when the result cannot be reported, for the on-failure destination', async () => {
    heartbeatAgent(async () => ({ type: 'done', result: 'x' }));
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

    await expect(handler(CALLBACK)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('drops a result quietly when its task ended meanwhile', async () => {
    heartbeatAgent(async () => ({ type: 'continue', state: {} }));
    sfn.on(SendTaskSuccessCommand).rejects(taskEnded());
    await expect(handler(CALLBACK)).resolves.toBeUndefined();
  });

  it('reports stopped for a job cancelled meanwhile, writing nothing', async () => {
    heartbeatAgent(vi.fn());
    storeHas({ job: { agent: 'custom', status: 'cancelled', input: { message: 'm' } } });
    await handler(CALLBACK);
    expect(successes()).toEqual([{ outcome: 'stopped' }]);
    expect(updates()).toEqual([]);
  });

  it('hands the step back to the plain form for an agent that no longer declares heartbeats', async () => {
    storeHas({ job: { input: { message: 'm', steps: 3, stepMs: 0 } } });

    await handler(CALLBACK);

    expect(successes()).toEqual([{ outcome: 'continue' }]);
    expect(updates()).toEqual([]);
  });
});

describe('agent step: a next step the agent bounds runs in the same invocation', () => {
  const TOKEN = 'task-token-1';
  const CALLBACK = { ...EVENT, taskToken: TOKEN };
  const successes = () =>
    sfn.commandCalls(SendTaskSuccessCommand).map((c) => JSON.parse(c.args[0].input.output!) as unknown);

  /** Step 1 hands over a bounded step 2, which finishes; what each step saw is kept. */
  function chainingAgent(withinMs: number, over: Partial<AgentDefinition<unknown, unknown>> = {}) {
    const seen: { completedSteps: number; state: unknown; emitted: boolean }[] = [];
    customAgent(
      async (ctx) => {
        seen.push({
          completedSteps: ctx.completedSteps,
          state: ctx.state,
          emitted: ctx.earlierAttemptEmitted,
        });
        ctx.progress(0.5 * (ctx.completedSteps + 1), `step ${ctx.completedSteps + 1}`);
        if (ctx.completedSteps === 0)
          return { type: 'continue', state: { n: 1 }, nextStepWithinMs: withinMs };
        return { type: 'continue', state: { n: 2 } };
      },
      { stepTimeoutSeconds: 10, ...over },
    );
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    return seen;
  }

  it('checkpoints the first step, then runs the next from that checkpoint, with one read and one result', async () => {
    const seen = chainingAgent(5_000);

    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });

    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(seen).toEqual([
      { completedSteps: 0, state: null, emitted: false },
      { completedSteps: 1, state: { n: 1 }, emitted: false },
    ]);
    expect(updates().map((u) => u.ExpressionAttributeValues)).toMatchObject([
      { ':expected': 0, ':steps': 1, ':state': { n: 1 }, ':progress': { step: 1, fraction: 0.5 } },
      { ':expected': 1, ':steps': 2, ':state': { n: 2 }, ':progress': { step: 2, fraction: 1 } },
    ]);
  });

  it('in the callback form too: one opening heartbeat and one SendTaskSuccess for both steps', async () => {
    chainingAgent(5_000, { heartbeatSeconds: 4 });

    await handler(CALLBACK);

    expect(sfn.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(1);
    expect(successes()).toEqual([{ outcome: 'continue', heartbeatSeconds: 4 }]);
    expect(updates().map((u) => u.ExpressionAttributeValues?.[':steps'])).toEqual([1, 2]);
  });

  it('leaves a next step whose bound does not fit in what is left of the step timeout to the workflow', async () => {
    const seen = chainingAgent(10_001);

    expect(await handler(EVENT)).toEqual({ outcome: 'continue' });

    expect(seen).toHaveLength(1);
    expect(updates()).toHaveLength(1);
  });

  it('runs no next step once the checkpoint is refused (cancelled meanwhile)', async () => {
    const seen = chainingAgent(5_000);
    jobRefusesWrites();

    expect(await handler(EVENT)).toEqual({ outcome: 'stopped' });

    expect(seen).toHaveLength(1);
  });

  it('gives the next step only what is left of the step timeout', async () => {
    customAgent(
      async (ctx) => {
        if (ctx.completedSteps === 0) {
          await sleep(6_000);
          return { type: 'continue', state: { n: 1 }, nextStepWithinMs: 1_000 };
        }
        await sleep(5_000);
        return { type: 'done', result: 'late' };
      },
      { stepTimeoutSeconds: 10 },
    );
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });

    const result = handler(EVENT);
    await vi.advanceTimersByTimeAsync(10_000);

    expect(await result).toEqual({
      outcome: 'failed',
      error: { code: 'step_timeout', message: 'step 2 did not finish in time' },
    });
    expect(updates()).toHaveLength(1);
  });
});

describe('agent step: work the agent names for the next step to start while it reads the job', () => {
  const TOKEN = 'task-token-1';
  const successes = () =>
    sfn.commandCalls(SendTaskSuccessCommand).map((c) => JSON.parse(c.args[0].input.output!) as unknown);
  const previous = (value: unknown, agent = 'custom') => ({
    outcome: 'continue' as const,
    heartbeatSeconds: 4,
    prepare: { agent, value: value as never },
  });

  /** An agent whose prepare starts work that resolves to `ready`, and whose step may take it. */
  function preparingAgent(take: boolean) {
    const discard = vi.fn(async () => {});
    const prepare = vi.fn(() => ({ result: Promise.resolve('ready'), discard }));
    const prepareFor = ({ state }: { state: unknown }) => ({
      next: ((state as { n?: number } | null)?.n ?? 0) + 1,
    });
    const taken: unknown[] = [];
    customAgent(
      async (ctx) => {
        if (take) taken.push(await ctx.takePrepared(), ctx.takePrepared());
        return { type: 'continue', state: { n: 1 } };
      },
      { heartbeatSeconds: 4, stepTimeoutSeconds: 60, prepare, prepareFor },
    );
    storeHas({ job: { agent: 'custom', input: { message: 'm' } } });
    return { prepare, discard, taken };
  }

  it("starts the agent's prepare with the value handed over, before the job's read ends, and gives its work to the step once", async () => {
    const { prepare, discard, taken } = preparingAgent(true);
    let readAt = 0;
    const item = storedJob(
      makeJob({ status: 'running', agent: 'custom', input: { message: 'm' }, startedAt: NOW.toISOString() }),
    );
    ddb.on(GetCommand).callsFake(async () => {
      readAt = prepare.mock.calls.length;
      return { Item: item };
    });

    await handler({ ...EVENT, taskToken: TOKEN, previous: previous({ next: 1 }) });

    expect(prepare).toHaveBeenCalledWith(TENANT, { next: 1 });
    expect(readAt).toBe(1);
    expect(taken).toEqual(['ready', undefined]);
    expect(discard).not.toHaveBeenCalled();
  });

  it('hands what the agent names for the next step to the workflow, with the agent it is for', async () => {
    preparingAgent(true);
    await handler({ ...EVENT, taskToken: TOKEN });
    expect(successes()).toEqual([
      { outcome: 'continue', heartbeatSeconds: 4, prepare: { agent: 'custom', value: { next: 2 } } },
    ]);
  });

  it("names it when the plain step hands the agent's first step to the callback form", async () => {
    preparingAgent(true);
    expect(await handler(EVENT)).toEqual({
      outcome: 'continue',
      heartbeatSeconds: 4,
      prepare: { agent: 'custom', value: { next: 1 } },
    });
  });

  it('discards work no step took: a step that left it, a cancelled job, a task that had ended', async () => {
    const left = preparingAgent(false);
    await handler({ ...EVENT, taskToken: TOKEN, previous: previous({ next: 1 }) });
    expect(left.discard).toHaveBeenCalledTimes(1);

    const cancelled = preparingAgent(true);
    storeHas({ job: { agent: 'custom', status: 'cancelled', input: { message: 'm' } } });
    await handler({ ...EVENT, taskToken: TOKEN, previous: previous({ next: 1 }) });
    expect(cancelled.discard).toHaveBeenCalledTimes(1);

    const ended = preparingAgent(true);
    sfn.on(SendTaskHeartbeatCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    await handler({ ...EVENT, taskToken: TOKEN, previous: previous({ next: 1 }) });
    expect(ended.taken).toEqual([]);
    expect(ended.discard).toHaveBeenCalledTimes(1);
  });

  it('gives a step no work prepared for another agent, and drops a value over 1 KiB', async () => {
    const { discard, taken } = preparingAgent(true);
    await handler({ ...EVENT, taskToken: TOKEN, previous: previous({ next: 1 }, 'echo') });
    expect(taken).toEqual([undefined, undefined]);
    expect(discard).toHaveBeenCalledTimes(1);

    customAgent(async () => ({ type: 'continue', state: {} }), {
      heartbeatSeconds: 4,
      stepTimeoutSeconds: 60,
      prepareFor: () => 'x'.repeat(1_100),
    });
    sfn.resetHistory();
    await handler({ ...EVENT, taskToken: TOKEN });
    expect(successes()).toEqual([{ outcome: 'continue', heartbeatSeconds: 4 }]);
  });
});
