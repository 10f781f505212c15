import { createLogger } from '../config/logger.js';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import { TaskTokenClient } from '../adapters/task-token-client.js';
import type { AgentDefinition, StepOutcome } from '../agents/agent.js';
import { inputTimeoutOf, TransientStepError } from '../agents/agent.js';
import { findAgent } from '../agents/registry.js';
import type { AgentStepEvent, AgentStepResult } from '../config/workflow.js';
import type { JobErrorCode } from '../domain/errors.js';
import { HeartbeatThrottle, heartbeatIntervalMs } from '../domain/heartbeat.js';
import { isUsableSchema } from '../domain/input-answer.js';
import type { Job, JobProgress, JsonValue } from '../domain/job.js';
import { inputWait } from '../domain/job.js';
import { cappedProgressData } from '../domain/job-events.js';
import type { Checkpoint, StepSnapshot } from '../domain/job-store.js';

const logger = createLogger();
const store = jobStoreFromEnv();
const tasks = new TaskTokenClient();

/** A job item must stay well under DynamoDB's 400 KB; results beyond this fail the job clearly. */
export const MAX_RESULT_BYTES = 128 * 1024;
/** Prompts are shown to people and stored on the job: longer ones are cut. */
const MAX_PROMPT_CHARS = 4_000;

const failed = (code: JobErrorCode, message: string): AgentStepResult => ({
  outcome: 'failed',
  error: { code, message },
});

class StepDeadline extends Error {
  override readonly name = 'StepDeadline';
  constructor(readonly code: 'step_timeout' | 'job_timeout') {
    super(code);
  }
}

/** What the step reported; recorded with its outcome. */
interface Report {
  progress: JobProgress;
  data: JsonValue | null;
}

/** The step's task ended under it (heartbeat timeout, or its execution stopped): stop, record nothing. */
class TaskEnded extends Error {
  override readonly name = 'TaskEnded';
}

/** A callback task this invocation runs for, and when its opening heartbeat went out. */
interface OpenTask {
  token: string;
  openedAt: number;
}

/** How a running step keeps its task alive. */
interface Lifeline {
  beat(): void;
  /** Rejects with TaskEnded once a heartbeat finds the task gone; never settles otherwise. */
  readonly ended: Promise<never>;
  stop(): void;
}

/** A step run as a plain invocation has no task to keep alive. A fresh one per step: nothing piles up on it. */
const noTask = (): Lifeline => ({ beat: () => {}, ended: new Promise<never>(() => {}), stop: () => {} });

function taskLifeline(task: OpenTask, heartbeatSeconds: number, jobId: string): Lifeline {
  let end!: (reason: TaskEnded) => void;
  const ended = new Promise<never>((_, reject) => (end = reject));
  ended.catch(() => {});
  const send = () => {
    tasks.heartbeat(task.token).then(
      (alive) => {
        if (!alive) end(new TaskEnded('the task of this step has ended'));
      },
      // Throttled or unreachable for now: the next beat may get through before the timeout.
      (error: unknown) => logger.warn('heartbeat not delivered', { jobId, error: error as Error }),
    );
  };
  const throttle = new HeartbeatThrottle(heartbeatIntervalMs(heartbeatSeconds), send, task.openedAt);
  return { beat: () => throttle.beat(), ended, stop: () => throttle.stop() };
}

/** Runs one step under the tighter of the step timeout and the job deadline, aborting the agent at it. */
async function runBounded<S>(
  agent: AgentDefinition<unknown, S>,
  snap: StepSnapshot,
  input: unknown,
  report: Report,
  lifeline: Lifeline,
): Promise<StepOutcome<S>> {
  const jobLeftMs =
    new Date(snap.job.startedAt ?? snap.job.createdAt).getTime() +
    snap.job.timeoutSeconds * 1000 -
    Date.now();
  const stepMs = agent.stepTimeoutSeconds * 1000;
  if (jobLeftMs <= 0) throw new StepDeadline('job_timeout');
  const deadline = new StepDeadline(jobLeftMs < stepMs ? 'job_timeout' : 'step_timeout');
  const controller = new AbortController();
  lifeline.ended.catch((reason: unknown) => controller.abort(reason));
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        controller.abort(deadline);
        reject(deadline);
      },
      Math.min(jobLeftMs, stepMs),
    );
  });
  try {
    return await Promise.race([
      agent.step({
        jobId: snap.job.id,
        input,
        state: snap.state as S | null,
        completedSteps: snap.completedSteps,
        signal: controller.signal,
        answer: snap.answer,
        progress(fraction, message, data) {
          report.progress.fraction = Math.min(1, Math.max(0, fraction));
          report.progress.message = message?.slice(0, 500) ?? null;
          const capped = cappedProgressData(data);
          if (capped.dropped) logger.warn('progress data over the size cap dropped', { jobId: snap.job.id });
          report.data = capped.data;
          lifeline.beat();
        },
        heartbeat: () => lifeline.beat(),
      }),
      expired,
      lifeline.ended,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const heartbeatOf = (agent: Pick<AgentDefinition, 'heartbeatSeconds'>) =>
  agent.heartbeatSeconds === undefined ? {} : { heartbeatSeconds: agent.heartbeatSeconds };

/**
 * One agent step, in either form. AgentStep invokes the function synchronously and takes the
 * returned result; AgentStepWithHeartbeat, for agents with `heartbeatSeconds`, invokes it
 * asynchronously with a task token, and the result goes back through the token (see runAndReport).
 */
export async function handler(event: AgentStepEvent & { taskToken: string }): Promise<undefined>;
export async function handler(event: AgentStepEvent & { taskToken?: undefined }): Promise<AgentStepResult>;
export async function handler(event: AgentStepEvent): Promise<AgentStepResult | undefined> {
  return event.taskToken === undefined ? runStep(event) : runAndReport(event, event.taskToken);
}

/**
 * Load the checkpoint, run the step, record its outcome with a conditional write. A cancelled job
 * is seen here (status no longer `running`) and nothing more is written. Agent failures are
 * returned, not thrown, so the workflow never retries them; TransientStepError is thrown so the
 * workflow retries with backoff.
 */
async function runStep(event: AgentStepEvent, task?: OpenTask): Promise<AgentStepResult> {
  const snap = await store.loadForStep(event.tenant, event.jobId);
  if (snap?.job.status !== 'running') return { outcome: 'stopped' };
  const agent = findAgent(snap.job.agent);
  if (!agent) return failed('agent_error', `agent ${snap.job.agent} is not deployed`);
  // Each form runs only the steps it suits. A heartbeat agent's step reached as a plain invocation
  // (its first step, or the one after an answer), or a step reached with a token for an agent that
  // no longer declares heartbeats, is handed to the other form without running anything.
  if ((agent.heartbeatSeconds !== undefined) !== (task !== undefined)) {
    return { outcome: 'continue', ...heartbeatOf(agent) };
  }
  const input = agent.inputSchema.safeParse(snap.job.input);
  if (!input.success) return failed('agent_error', 'the stored input no longer matches the agent schema');

  const step = snap.completedSteps + 1;
  const report: Report = { progress: { ...snap.job.progress, step }, data: null };
  // The check above leaves a task only for an agent with heartbeatSeconds.
  const lifeline = task ? taskLifeline(task, agent.heartbeatSeconds!, snap.job.id) : noTask();
  let outcome: StepOutcome<unknown>;
  try {
    outcome = await runBounded(agent, snap, input.data, report, lifeline);
  } catch (error) {
    if (error instanceof StepDeadline) return failed(error.code, `step ${step} did not finish in time`);
    if (error instanceof TransientStepError || error instanceof TaskEnded) throw error;
    logger.warn('agent step threw', { jobId: snap.job.id, step, error: error as Error });
    return failed(
      'agent_error',
      `step ${step} failed: ${(error as Error).message ?? 'unknown error'}`.slice(0, 1000),
    );
  } finally {
    lifeline.stop();
  }
  const invalid = invalidOutcome(outcome);
  if (invalid) return failed('agent_error', `step ${step} ${invalid}`);
  return record(event, snap.job, agent, outcome, {
    completedSteps: step,
    progress: report.progress,
    progressData: report.data,
  });
}

/**
 * The callback form. Its result goes to the waiting task: SendTaskSuccess with what AgentStep would
 * have returned, or SendTaskFailure named like the error AgentStep would have thrown, so Retry and
 * Catch treat both forms alike. What cannot be reported is thrown: the invocation then fails into
 * the function's on-failure destination (the step DLQ), and the task ends at its heartbeat timeout.
 */
async function runAndReport(event: AgentStepEvent, taskToken: string): Promise<undefined> {
  const log = { jobId: event.jobId };
  const openedAt = Date.now();
  if (!(await openTask(taskToken, log))) return undefined;
  let result: AgentStepResult;
  try {
    result = await runStep(event, { token: taskToken, openedAt });
  } catch (error) {
    if (error instanceof TaskEnded) {
      logger.info('the task of this step ended while it ran; nothing was recorded', log);
      return undefined;
    }
    const e = error instanceof Error ? error : new Error(String(error));
    if (!(e instanceof TransientStepError)) logger.error('agent step failed', { ...log, error: e });
    const cause = JSON.stringify({ errorType: e.name, errorMessage: e.message });
    if (!(await tasks.fail(taskToken, e.name, cause))) logger.info('the task of this step had ended', log);
    return undefined;
  }
  if (!(await tasks.succeed(taskToken, result))) {
    logger.warn('the task of this step ended before its result arrived', { ...log, outcome: result.outcome });
  }
  return undefined;
}

/**
 * The opening heartbeat also asks whether the task still waits: Lambda may hold an asynchronous
 * event back (throttling) until after its task has ended, and such a step must not run.
 */
async function openTask(taskToken: string, log: { jobId: string }): Promise<boolean> {
  try {
    if (await tasks.heartbeat(taskToken)) return true;
    logger.info('the task of this step had already ended; nothing was run', log);
    return false;
  } catch (error) {
    // Throttled or unreachable for now: no reason to drop the step, later beats may get through.
    logger.warn('opening heartbeat not delivered', { ...log, error: error as Error });
    return true;
  }
}

const OUTCOME_TYPES: ReadonlySet<unknown> = new Set(['continue', 'done', 'fail', 'input_required']);

/** Agents are not trusted to keep their contract: what one returns is checked before anything is written. */
function invalidOutcome(outcome: unknown): string | undefined {
  if (
    typeof outcome !== 'object' ||
    outcome === null ||
    !OUTCOME_TYPES.has((outcome as { type?: unknown }).type)
  ) {
    return 'returned no valid outcome';
  }
  try {
    JSON.stringify(outcome);
  } catch {
    return 'returned a value that cannot be stored as JSON';
  }
  return undefined;
}

async function record(
  event: AgentStepEvent,
  job: Job,
  agent: AgentDefinition<unknown, unknown>,
  outcome: StepOutcome<unknown>,
  cp: Omit<Checkpoint, 'state'>,
): Promise<AgentStepResult> {
  const now = new Date();
  switch (outcome.type) {
    case 'fail':
      return failed(outcome.code ?? 'agent_error', outcome.message);
    case 'input_required': {
      if (typeof outcome.prompt !== 'string' || !isUsableSchema(outcome.schema)) {
        return failed('agent_error', 'the input request has no prompt or an unusable schema');
      }
      const request = {
        prompt: outcome.prompt.slice(0, MAX_PROMPT_CHARS),
        ...(outcome.schema === undefined ? {} : { schema: outcome.schema }),
      };
      const wait = inputWait(job, inputTimeoutOf(agent).defaultSeconds, now);
      const state = (outcome.state ?? null) as never;
      const ok = await store.requestInput(event.tenant, event.jobId, { ...cp, state }, request, now);
      if (!ok) return { outcome: 'stopped' };
      return { outcome: 'input_required', inputTimeoutSeconds: wait.seconds, onInputTimeout: wait.onTimeout };
    }
    case 'continue': {
      const ok = await store.checkpoint(
        event.tenant,
        event.jobId,
        { ...cp, state: (outcome.state ?? null) as never },
        now,
      );
      return ok ? { outcome: 'continue', ...heartbeatOf(agent) } : { outcome: 'stopped' };
    }
    case 'done': {
      if (Buffer.byteLength(JSON.stringify(outcome.result ?? null)) > MAX_RESULT_BYTES) {
        return failed('agent_error', `the result is larger than ${MAX_RESULT_BYTES} bytes`);
      }
      const progress = { ...cp.progress, fraction: 1 };
      const ok = await store.succeed(event.tenant, event.jobId, outcome.result, { ...cp, progress }, now);
      return { outcome: ok ? 'done' : 'stopped' };
    }
  }
}
