import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  localizeCallbacks,
  StatesError,
  TaskTokens,
  taskContext,
  TokenError,
} from '../../../lambdas/local/task-callbacks.js';
import type { AslDefinition, Json } from '../../../lambdas/local/task-handlers.js';

const CALLBACK = 'arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken';

describe('localizeCallbacks', () => {
  it('moves dynamic limits of callback tasks into their parameters and leaves other states alone', () => {
    const definition: AslDefinition = {
      StartAt: 'Wait',
      States: {
        Wait: {
          Type: 'Task',
          Resource: CALLBACK,
          Parameters: { 'Token.$': '$$.Task.Token' },
          TimeoutSecondsPath: '$.step.inputTimeoutSeconds',
          HeartbeatSeconds: 30,
        },
        Step: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', TimeoutSeconds: 30 },
      },
    };
    const local = localizeCallbacks(definition);
    expect(local.callbacks).toEqual({ Wait: { timeoutSeconds: undefined, heartbeatSeconds: 30 } });
    expect(local.definition.States.Wait).toEqual({
      Type: 'Task',
      Resource: CALLBACK,
      HeartbeatSeconds: 30,
      TimeoutSeconds: 2_000_000,
      Parameters: { 'Token.$': '$$.Task.Token', 'LocalTimeoutSeconds.$': '$.step.inputTimeoutSeconds' },
    });
    expect(local.definition.States.Step).toBe(definition.States.Step);
  });
});

describe('TaskTokens', () => {
  let tokens: TaskTokens;
  let controller: AbortController;
  const token = () => taskContext().Token;

  beforeEach(() => {
    tokens = new TaskTokens();
    controller = new AbortController();
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  /** Starts a callback task whose request records its parameters; resolves once the request was made. */
  async function start(limits: Parameters<TaskTokens['run']>[0], extra: Record<string, Json> = {}) {
    const taskToken = token();
    const sent: Json[] = [];
    let requested!: () => void;
    const made = new Promise<void>((r) => (requested = r));
    const result = tokens.run(limits, { Item: { t: taskToken }, ...extra }, controller.signal, async (p) => {
      sent.push(p);
      requested();
      return {};
    });
    result.catch(() => {});
    await made;
    return { taskToken, sent, result };
  }

  it('issues a different token on every read of $$.Task.Token', () => {
    expect(token()).not.toBe(token());
  });

  it('makes the request without the local limit parameters, then waits for SendTaskSuccess', async () => {
    const { taskToken, sent, result } = await start({}, { LocalTimeoutSeconds: 5 });
    expect(sent).toEqual([{ Item: { t: taskToken } }]);
    tokens.succeed(taskToken, { ok: true });
    await expect(result).resolves.toEqual({ ok: true });
  });

  it('fails the task with the error SendTaskFailure names', async () => {
    const { taskToken, result } = await start({});
    tokens.fail(taskToken, 'Rejected', 'no');
    await expect(result).rejects.toMatchObject({ name: 'Rejected', message: 'no' });
  });

  it('times out with States.Timeout after the limit from the state input, then answers TaskTimedOut', async () => {
    const { taskToken, result } = await start({ timeoutSeconds: 100 }, { LocalTimeoutSeconds: 2 });
    vi.advanceTimersByTime(2_000);
    await expect(result).rejects.toEqual(new StatesError('States.Timeout', 'the task timed out'));
    expect(() => tokens.succeed(taskToken, null)).toThrow(new TokenError('TaskTimedOut'));
  });

  it('fails with States.HeartbeatTimeout when heartbeats stop, and not while they come', async () => {
    const { taskToken, result } = await start({ heartbeatSeconds: 10 });
    vi.advanceTimersByTime(8_000);
    tokens.heartbeat(taskToken);
    vi.advanceTimersByTime(8_000);
    tokens.heartbeat(taskToken);
    vi.advanceTimersByTime(10_000);
    await expect(result).rejects.toMatchObject({ name: 'States.HeartbeatTimeout' });
  });

  it('gives up when the execution is stopped', async () => {
    const { result } = await start({});
    controller.abort();
    await expect(result).rejects.toMatchObject({ name: 'States.Aborted' });
  });

  it('answers TaskDoesNotExist for an unknown token and InvalidToken for a foreign one', () => {
    expect(() => tokens.heartbeat(token())).toThrow(new TokenError('TaskDoesNotExist'));
    expect(() => tokens.heartbeat('not-a-token')).toThrow(new TokenError('InvalidToken'));
  });

  it('fails a callback task whose parameters carry no token', async () => {
    await expect(tokens.run({}, { a: 1 }, controller.signal, async () => ({}))).rejects.toMatchObject({
      name: 'States.Runtime',
    });
  });

  it('passes a failed request on and forgets the token', async () => {
    const taskToken = token();
    await expect(
      tokens.run({ timeoutSeconds: 5 }, { t: taskToken }, controller.signal, () =>
        Promise.reject(new Error('DynamoDb.ConditionalCheckFailedException')),
      ),
    ).rejects.toThrow('ConditionalCheckFailed');
    expect(() => tokens.succeed(taskToken, null)).toThrow(new TokenError('TaskTimedOut'));
  });
});
