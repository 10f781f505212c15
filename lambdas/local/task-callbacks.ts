import { randomUUID } from 'node:crypto';
import { type AslDefinition, CALLBACK_SUFFIX, type Json, type TaskState } from './task-handlers.js';

/**
 * Callback tasks (`.waitForTaskToken`) for the local Step Functions service. aws-local-stepfunctions
 * has no task tokens, ignores HeartbeatSeconds and reads TimeoutSecondsPath from the task's
 * parameters instead of its input, so this module does those parts: it issues a token per task
 * invocation through `$$.Task.Token`, parks the task until SendTaskSuccess / SendTaskFailure, and
 * enforces the task's timeout and heartbeat itself.
 */

const TOKEN_PREFIX = 'local-task-token:';
/** Parameters added to carry a `...SecondsPath` value, resolved against the state input as in AWS. */
const TIMEOUT_PARAM = 'LocalTimeoutSeconds';
const HEARTBEAT_PARAM = 'LocalHeartbeatSeconds';
/** The runner's own timer for callback tasks is pushed out of the way (setTimeout's ceiling is ~24 days). */
const RUNNER_TIMEOUT_SECONDS = 2_000_000;

export interface CallbackLimits {
  timeoutSeconds?: number;
  heartbeatSeconds?: number;
}

/** An error Step Functions would report with this name (Catch and Retry match on it). */
export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** An SDK call on an unknown or ended token; the service maps these to its error types. */
export class TokenError extends Error {
  constructor(readonly type: 'TaskDoesNotExist' | 'TaskTimedOut' | 'InvalidToken') {
    super(type === 'TaskTimedOut' ? 'Task Timed Out' : `Task does not exist: ${type}`);
  }
}

/**
 * The definition the runner gets: each callback task's dynamic limits move into its parameters
 * (so they are read from the state input) and its runner timeout out of the way, in the branches
 * of Parallel states and the processors of Map states too. Returns the limits of each callback
 * task by state name (the runner names tasks the same way, nested or not).
 */
export function localizeCallbacks(definition: AslDefinition): {
  definition: AslDefinition;
  callbacks: Record<string, CallbackLimits>;
} {
  const callbacks: Record<string, CallbackLimits> = {};
  return { definition: localizeStates(definition, callbacks), callbacks };
}

function localizeStates(machine: AslDefinition, callbacks: Record<string, CallbackLimits>): AslDefinition {
  const states = Object.fromEntries(
    Object.entries(machine.States).map(([name, state]) => {
      if (state.Type === 'Parallel')
        return [name, { ...state, Branches: state.Branches?.map((b) => localizeStates(b, callbacks)) }];
      if (state.Type === 'Map') {
        const processor = state.ItemProcessor ? 'ItemProcessor' : 'Iterator';
        const machine = state[processor];
        return [name, machine ? { ...state, [processor]: localizeStates(machine, callbacks) } : state];
      }
      if (state.Type !== 'Task' || !state.Resource?.endsWith(CALLBACK_SUFFIX)) return [name, state];
      callbacks[name] = { timeoutSeconds: state.TimeoutSeconds, heartbeatSeconds: state.HeartbeatSeconds };
      return [name, localCallbackTask(state)];
    }),
  );
  return { ...machine, States: states };
}

function localCallbackTask(state: TaskState): TaskState {
  const { TimeoutSecondsPath, HeartbeatSecondsPath, ...rest } = state;
  return {
    ...rest,
    TimeoutSeconds: RUNNER_TIMEOUT_SECONDS,
    Parameters: {
      ...state.Parameters,
      ...(TimeoutSecondsPath ? { [`${TIMEOUT_PARAM}.$`]: TimeoutSecondsPath } : {}),
      ...(HeartbeatSecondsPath ? { [`${HEARTBEAT_PARAM}.$`]: HeartbeatSecondsPath } : {}),
    },
  };
}

/** `$$.Task` for the runner's context: every read issues a fresh token, as each task invocation gets one. */
export function taskContext() {
  return {
    get Token() {
      return `${TOKEN_PREFIX}${randomUUID()}`;
    },
  };
}

function tokenIn(value: unknown): string | undefined {
  if (typeof value === 'string') return value.startsWith(TOKEN_PREFIX) ? value : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const child of Object.values(value)) {
    const found = tokenIn(child);
    if (found) return found;
  }
  return undefined;
}

interface Waiting {
  resolve(output: Json): void;
  reject(error: Error): void;
  heartbeat(): void;
}

/** Tokens of the running callback tasks, and of those that ended, so a late call gets AWS's answer. */
export class TaskTokens {
  private readonly waiting = new Map<string, Waiting>();
  private readonly ended = new Set<string>();

  /**
   * Runs a callback task: `call` is the integration's request; the task's result is what
   * SendTaskSuccess sends. The token is the one `$$.Task.Token` put into the parameters.
   */
  async run(
    limits: CallbackLimits,
    input: Json,
    signal: AbortSignal,
    call: (params: Json) => Promise<Json>,
  ): Promise<Json> {
    const {
      [TIMEOUT_PARAM]: timeoutPath,
      [HEARTBEAT_PARAM]: heartbeatPath,
      ...params
    } = input as Record<string, Json>;
    const token = tokenIn(params);
    if (!token) throw new StatesError('States.Runtime', 'a callback task must pass $$.Task.Token');
    const timeoutSeconds = (timeoutPath as number | undefined) ?? limits.timeoutSeconds;
    const heartbeatSeconds = (heartbeatPath as number | undefined) ?? limits.heartbeatSeconds;
    const timers: NodeJS.Timeout[] = [];
    let heartbeatTimer: NodeJS.Timeout | undefined;
    const done = new Promise<Json>((resolve, reject) => {
      const fail = (name: string, message: string) => () => reject(new StatesError(name, message));
      const armHeartbeat = () => {
        if (heartbeatSeconds === undefined) return;
        clearTimeout(heartbeatTimer);
        heartbeatTimer = setTimeout(
          fail('States.HeartbeatTimeout', 'no heartbeat in time'),
          heartbeatSeconds * 1000,
        );
      };
      if (timeoutSeconds !== undefined) {
        timers.push(setTimeout(fail('States.Timeout', 'the task timed out'), timeoutSeconds * 1000));
      }
      armHeartbeat();
      signal.addEventListener('abort', fail('States.Aborted', 'the execution was stopped'), { once: true });
      this.waiting.set(token, { resolve, reject, heartbeat: armHeartbeat });
    });
    // When the call itself fails, nobody awaits `done`; a later abort must not surface as unhandled.
    done.catch(() => {});
    try {
      await call(params);
      return await done;
    } finally {
      for (const t of timers) clearTimeout(t);
      clearTimeout(heartbeatTimer);
      this.waiting.delete(token);
      this.ended.add(token);
    }
  }

  succeed(token: string | undefined, output: Json): void {
    this.find(token).resolve(output);
  }

  fail(token: string | undefined, error: string | undefined, cause: string | undefined): void {
    this.find(token).reject(new StatesError(error ?? 'States.TaskFailed', cause ?? ''));
  }

  heartbeat(token: string | undefined): void {
    this.find(token).heartbeat();
  }

  private find(token: string | undefined): Waiting {
    if (!token?.startsWith(TOKEN_PREFIX)) throw new TokenError('InvalidToken');
    const waiting = this.waiting.get(token);
    if (waiting) return waiting;
    throw new TokenError(this.ended.has(token) ? 'TaskTimedOut' : 'TaskDoesNotExist');
  }
}
