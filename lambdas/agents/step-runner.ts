import type { Logger } from '@aws-lambda-powertools/logger';
import type { AgentStepEvent, AgentStepResult } from '../config/workflow.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../config/workflow.js';
import type { JobErrorCode } from '../domain/errors.js';
import { HeartbeatThrottle, heartbeatIntervalMs } from '../domain/heartbeat.js';
import type { JobProgress, JsonValue } from '../domain/job.js';
import { inputWait, jobUsage } from '../domain/job.js';
import { cappedProgressData } from '../domain/job-events.js';
import type { Checkpoint, JobStore, StepSnapshot } from '../domain/job-store.js';
import { jsonBytes } from '../domain/stored-json.js';
import { stepTally, utcDay } from '../domain/usage.js';
import type { AgentDefinition, PreparedWork, StepOutcome } from './agent.js';
import { inputTimeoutOf, MAX_PREPARE_BYTES, TransientStepError } from './agent.js';
import type { CheckedOutcome } from './step-outcome.js';
import { checkOutcome, oversizedValue } from './step-outcome.js';

/** A callback task's side of Step Functions (TaskTokenClient); each call is false once the task has ended. */
export interface TaskCallbacks {
  heartbeat(taskToken: string): Promise<boolean>;
  succeed(taskToken: string, output: unknown): Promise<boolean>;
  fail(taskToken: string, error: string, cause: string): Promise<boolean>;
}

/** The structured logger the runner writes to. */
export type StepLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

/**
 * What the runner needs from outside. `findAgent` is the seam where agents plug in: any agent
 * that keeps the step contract of agent.ts runs here with the same checkpoints, timeouts,
 * heartbeats and size checks.
 */
export interface StepRunnerDeps {
  store: Pick<JobStore, 'loadForStep' | 'checkpoint' | 'succeed' | 'requestInput' | 'appendEvents'>;
  tasks: TaskCallbacks;
  findAgent(name: string): AgentDefinition<unknown, unknown> | undefined;
  logger: StepLogger;
}

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

/** The step's task ended under it (heartbeat timeout, or its execution stopped): stop, record nothing. */
class TaskEnded extends Error {
  override readonly name = 'TaskEnded';
}

/** What the step reported; recorded with its outcome. */
interface Report {
  progress: JobProgress;
  data: JsonValue | null;
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

/** What every step of one invocation shares. */
interface Steps {
  event: AgentStepEvent;
  agent: AgentDefinition<unknown, unknown>;
  input: unknown;
  lifeline: Lifeline;
  side: SideWork;
  prepared: Prepared | undefined;
}

/** Work the agent's `prepare` started for an invocation: taken by a step at most once, or discarded. */
class Prepared {
  private taken = false;

  constructor(
    private readonly agent: string,
    private readonly work: PreparedWork,
  ) {}

  take(agent: string): Promise<unknown> | undefined {
    if (this.taken || agent !== this.agent) return undefined;
    this.taken = true;
    return this.work.result;
  }

  /** Discards the work unless a step took it. */
  async end(): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    await this.work.discard();
  }
}

/** A step run as a plain invocation has no task to keep alive. A fresh one per invocation: nothing piles up on it. */
const noTask = (): Lifeline => ({ beat: () => {}, ended: new Promise<never>(() => {}), stop: () => {} });

const heartbeatOf = (agent: Pick<AgentDefinition, 'heartbeatSeconds'>) =>
  agent.heartbeatSeconds === undefined ? {} : { heartbeatSeconds: agent.heartbeatSeconds };

/**
 * The job's usage after the step, and what the step adds to its tenant's day: the job itself with
 * the first step its first attempt records (a redriven job is the same job), and the model call
 * the step got an answer to.
 */
function usageOf(snap: StepSnapshot, outcome: CheckedOutcome, now: Date): Partial<Checkpoint> {
  const firstStep = snap.completedSteps === 0 && snap.job.attempt === 1;
  const counts = stepTally(firstStep, 'modelCall' in outcome ? outcome.modelCall : undefined);
  return {
    ...('usage' in outcome && outcome.usage ? { usage: jobUsage(snap.earlierUsage, outcome.usage) } : {}),
    ...(counts ? { tally: { day: utcDay(now), counts } } : {}),
    ...('events' in outcome && outcome.events ? { events: outcome.events } : {}),
  };
}

/** What a step handed over to run alongside its outcome's write (StepContext.alongside). */
class SideWork {
  private readonly running: Promise<void>[] = [];

  constructor(private readonly failed: (error: Error) => void) {}

  add(work: Promise<unknown>): void {
    this.running.push(
      work.then(
        () => undefined,
        (error: unknown) => this.failed(asError(error)),
      ),
    );
  }

  async done(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** Thrown values need not be Errors: an agent may throw null or a string. */
const asError = (thrown: unknown): Error =>
  thrown instanceof Error
    ? thrown
    : new Error(`a non-Error value was thrown: ${String(thrown).slice(0, 200)}`);

/**
 * Runs one agent step: load the checkpoint, run the agent under its step timeout and the job's
 * deadline, check what it returned, record the outcome with one conditional write. Handlers
 * call it; it knows no AWS service, only the store and the task callbacks it is given.
 */
export class StepRunner {
  constructor(private readonly deps: StepRunnerDeps) {}

  /**
   * A cancelled job is seen here (status no longer `running`) and nothing more is written. Agent
   * failures are returned, not thrown, so the workflow never retries them; TransientStepError is
   * thrown so the workflow retries with backoff.
   */
  async run(
    event: AgentStepEvent,
    task?: OpenTask,
    loading = this.deps.store.loadForStep(event.tenant, event.jobId),
    prepared?: Prepared,
  ): Promise<AgentStepResult> {
    const snap = await loading;
    if (snap?.job.status !== 'running') return { outcome: 'stopped' };
    const agent = this.deps.findAgent(snap.job.agent);
    if (!agent) return failed('agent_error', `agent ${snap.job.agent} is not deployed`);
    // Each form runs only the steps it suits. A heartbeat agent's step reached as a plain invocation
    // (its first step, or the one after an answer), or a step reached with a token for an agent that
    // no longer declares heartbeats, is handed to the other form without running anything.
    const input = agent.inputSchema.safeParse(snap.job.input);
    if (!input.success) return failed('agent_error', 'the stored input no longer matches the agent schema');
    if ((agent.heartbeatSeconds !== undefined) !== (task !== undefined)) {
      return { outcome: 'continue', ...heartbeatOf(agent), ...this.prepareFor(agent, input.data, snap) };
    }

    const side = new SideWork((error) =>
      this.deps.logger.warn('work alongside the step failed', { jobId: snap.job.id, error }),
    );
    const lifeline = task ? this.taskLifeline(task, agent.heartbeatSeconds!, snap.job.id) : noTask();
    const steps = { event, agent, input: input.data, lifeline, side, prepared };
    try {
      return await this.runSteps(steps, snap, Date.now() + agent.stepTimeoutSeconds * 1000);
    } finally {
      lifeline.stop();
      // The step's own work ends with it: nothing is left running into the next invocation.
      await side.done();
    }
  }

  /**
   * Runs the step, and then each next step its agent bounds (nextStepWithinMs) for as long as the
   * bound fits in what is left of one step timeout from the start of the invocation, the time the
   * workflow and the function allow one invocation. Each step is checkpointed before the next runs.
   */
  private async runSteps(steps: Steps, first: StepSnapshot, until: number): Promise<AgentStepResult> {
    let snap = first;
    for (;;) {
      const ran = await this.runAndRecord(steps, snap, until);
      if (!ran.next) return ran.result;
      if (until - Date.now() < ran.next.withinMs) return this.handOver(ran.result, steps, ran.next.snap);
      snap = ran.next.snap;
    }
  }

  /** A continued job's result, with what the next invocation may start while it reads the job. */
  private handOver(result: AgentStepResult, { agent, input }: Steps, next: StepSnapshot): AgentStepResult {
    return { ...result, ...this.prepareFor(agent, input, next) };
  }

  /**
   * What the agent names for the step that loads `snap` to start beside the job's read
   * (AgentDefinition.prepareFor). Only the callback form carries it; a value too large to travel in
   * the workflow's state is dropped, and an agent's failure to name one only costs the head start.
   */
  private prepareFor(
    agent: AgentDefinition<unknown, unknown>,
    input: unknown,
    snap: StepSnapshot,
  ): Pick<AgentStepResult, 'prepare'> {
    if (!agent.prepareFor || agent.heartbeatSeconds === undefined) return {};
    try {
      const value = agent.prepareFor({ input, state: snap.state });
      if (value === undefined || jsonBytes(value) > MAX_PREPARE_BYTES) return {};
      return { prepare: { agent: agent.name, value } };
    } catch (error) {
      this.deps.logger.warn('the agent named no work to prepare', {
        jobId: snap.job.id,
        error: asError(error),
      });
      return {};
    }
  }

  private async runAndRecord(
    steps: Steps,
    snap: StepSnapshot,
    until: number,
  ): Promise<{ result: AgentStepResult; next?: { snap: StepSnapshot; withinMs: number } }> {
    const step = snap.completedSteps + 1;
    const report: Report = { progress: { ...snap.job.progress, step }, data: null };
    let raw: StepOutcome<unknown>;
    try {
      raw = await this.runBounded(steps, snap, report, until);
    } catch (error) {
      return { result: this.thrown(error, snap.job.id, step) };
    }
    const outcome = checkOutcome(raw);
    if (typeof outcome === 'string') return { result: failed('agent_error', `step ${step} ${outcome}`) };
    const tooLarge = oversizedValue(outcome);
    if (tooLarge) return { result: failed('agent_error', `step ${step}: ${tooLarge}`) };
    const checkpoint = { completedSteps: step, progress: report.progress, progressData: report.data };
    const result = await this.record(steps.event, snap, steps.agent, outcome, checkpoint);
    if (result.outcome !== 'continue' || outcome.type !== 'continue') return { result };
    // The job as the next step would read it back: this checkpoint is what the item now holds.
    const next: StepSnapshot = {
      ...snap,
      job: { ...snap.job, progress: report.progress },
      state: outcome.state,
      completedSteps: step,
    };
    const withinMs = outcome.nextStepWithinMs;
    if (withinMs === undefined) return { result: this.handOver(result, steps, next) };
    return { result, next: { snap: next, withinMs } };
  }

  /**
   * The callback form. Its result goes to the waiting task: SendTaskSuccess with what `run` returns,
   * or SendTaskFailure named like the error `run` throws, so Retry and Catch treat both forms
   * alike. What cannot be reported is thrown: the invocation then fails into the function's
   * on-failure destination (the step DLQ), and the task ends at its heartbeat timeout.
   */
  async runAndReport(event: AgentStepEvent, taskToken: string): Promise<undefined> {
    const prepared = this.prepare(event);
    try {
      return await this.runAndReportPrepared(event, taskToken, prepared);
    } finally {
      await prepared?.end();
    }
  }

  /** Starts what the step before asked the agent to prepare, beside the job's read. */
  private prepare(event: AgentStepEvent): Prepared | undefined {
    const wanted = event.previous?.prepare;
    if (!wanted) return undefined;
    try {
      const work = this.deps.findAgent(wanted.agent)?.prepare?.(event.tenant, wanted.value);
      return work && new Prepared(wanted.agent, work);
    } catch (error) {
      this.deps.logger.warn('preparing the step failed', { jobId: event.jobId, error: asError(error) });
      return undefined;
    }
  }

  private async runAndReportPrepared(
    event: AgentStepEvent,
    taskToken: string,
    prepared: Prepared | undefined,
  ): Promise<undefined> {
    const { tasks, logger } = this.deps;
    const log = { jobId: event.jobId };
    const openedAt = Date.now();
    // The read does not wait for the opening heartbeat: one round trip less per step. Only the
    // step waits for it; a task that had ended leaves the read unused (and its failure unreported).
    const loading = this.deps.store.loadForStep(event.tenant, event.jobId);
    loading.catch(() => undefined);
    if (!(await this.openTask(taskToken, log))) return undefined;
    let result: AgentStepResult;
    try {
      result = await this.run(event, { token: taskToken, openedAt }, loading, prepared);
    } catch (error) {
      if (error instanceof TaskEnded) {
        logger.info('the task of this step ended while it ran; nothing was recorded', log);
        return undefined;
      }
      const e = asError(error);
      if (!(e instanceof TransientStepError)) logger.error('agent step failed', { ...log, error: e });
      const cause = JSON.stringify({ errorType: e.name, errorMessage: e.message });
      if (!(await tasks.fail(taskToken, e.name, cause))) logger.info('the task of this step had ended', log);
      return undefined;
    }
    if (!(await tasks.succeed(taskToken, result))) {
      logger.warn('the task of this step ended before its result arrived', {
        ...log,
        outcome: result.outcome,
      });
    }
    return undefined;
  }

  /**
   * What a step that threw becomes. Deadlines are results; transient trouble and an ended task are
   * thrown on. Anything else is the agent's bug: the detail goes to the log, and the client sees
   * a message that holds no exception text (it may carry secrets or internals).
   */
  private thrown(error: unknown, jobId: string, step: number): AgentStepResult {
    if (error instanceof StepDeadline) return failed(error.code, `step ${step} did not finish in time`);
    if (error instanceof TaskEnded) throw error;
    if (error instanceof TransientStepError) {
      // Its message travels in the workflow's error cause, which has its own size limit.
      if (error.message.length <= MAX_ERROR_MESSAGE_CHARS) throw error;
      throw new TransientStepError(error.message.slice(0, MAX_ERROR_MESSAGE_CHARS), { cause: error });
    }
    this.deps.logger.warn('agent step threw', { jobId, step, error: asError(error) });
    return failed('agent_error', `step ${step} failed: the agent raised an unexpected error`);
  }

  /**
   * The opening heartbeat also asks whether the task still waits: Lambda may hold an asynchronous
   * event back (throttling) until after its task has ended, and such a step must not run.
   */
  private async openTask(taskToken: string, log: { jobId: string }): Promise<boolean> {
    try {
      if (await this.deps.tasks.heartbeat(taskToken)) return true;
      this.deps.logger.info('the task of this step had already ended; nothing was run', log);
      return false;
    } catch (error) {
      // Throttled or unreachable for now: no reason to drop the step, later beats may get through.
      this.deps.logger.warn('opening heartbeat not delivered', { ...log, error: asError(error) });
      return true;
    }
  }

  private taskLifeline(task: OpenTask, heartbeatSeconds: number, jobId: string): Lifeline {
    let end!: (reason: TaskEnded) => void;
    const ended = new Promise<never>((_, reject) => (end = reject));
    ended.catch(() => {});
    const send = () => {
      this.deps.tasks.heartbeat(task.token).then(
        (alive) => {
          if (!alive) end(new TaskEnded('the task of this step has ended'));
        },
        // Throttled or unreachable for now: the next beat may get through before the timeout.
        (error: unknown) =>
          this.deps.logger.warn('heartbeat not delivered', { jobId, error: asError(error) }),
      );
    };
    const throttle = new HeartbeatThrottle(heartbeatIntervalMs(heartbeatSeconds), send, task.openedAt);
    return { beat: () => throttle.beat(), ended, stop: () => throttle.stop() };
  }

  /**
   * Runs one step under the tighter of the step timeout (`until`: a step run after another in the
   * same invocation has what is left of it) and the job deadline, aborting the agent at it.
   */
  private async runBounded(
    { agent, input, lifeline, side, prepared }: Steps,
    snap: StepSnapshot,
    report: Report,
    until: number,
  ): Promise<StepOutcome<unknown>> {
    const step = snap.completedSteps + 1;
    const jobLeftMs =
      new Date(snap.job.startedAt ?? snap.job.createdAt).getTime() +
      snap.job.timeoutSeconds * 1000 -
      Date.now();
    const stepMs = until - Date.now();
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
          tenant: snap.job.tenant,
          input,
          state: snap.state,
          completedSteps: snap.completedSteps,
          signal: controller.signal,
          answer: snap.answer,
          progress: (fraction, message, data) => {
            report.progress.fraction = Math.min(1, Math.max(0, fraction));
            report.progress.message = message?.slice(0, 500) ?? null;
            const capped = cappedProgressData(data);
            if (capped.dropped) {
              this.deps.logger.warn('progress data over the size cap dropped', { jobId: snap.job.id });
            }
            report.data = capped.data;
            lifeline.beat();
          },
          heartbeat: () => lifeline.beat(),
          emit: (events) =>
            this.deps.store.appendEvents(snap.job.tenant, snap.job.id, step, events, new Date()),
          earlierAttemptEmitted: snap.eventsStep === step,
          alongside: (work) => side.add(work),
          takePrepared: () => prepared?.take(snap.job.agent),
        }),
        expired,
        lifeline.ended,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async record(
    event: AgentStepEvent,
    snap: StepSnapshot,
    agent: AgentDefinition<unknown, unknown>,
    outcome: CheckedOutcome,
    stepCp: Omit<Checkpoint, 'state'>,
  ): Promise<AgentStepResult> {
    const { store } = this.deps;
    const now = new Date();
    const cp = { ...stepCp, ...usageOf(snap, outcome, now) };
    switch (outcome.type) {
      case 'fail':
        return failed(outcome.code, outcome.message);
      case 'input_required': {
        const wait = inputWait(snap.job, inputTimeoutOf(agent).defaultSeconds, now);
        const checkpoint = { ...cp, state: outcome.state };
        const ok = await store.requestInput(event.tenant, event.jobId, checkpoint, outcome.request, now);
        if (!ok) return { outcome: 'stopped' };
        return {
          outcome: 'input_required',
          inputTimeoutSeconds: wait.seconds,
          onInputTimeout: wait.onTimeout,
        };
      }
      case 'retry': {
        const progress = { ...cp.progress, message: outcome.message };
        const ok = await store.checkpoint(
          event.tenant,
          event.jobId,
          { ...cp, progress, state: outcome.state },
          now,
        );
        return ok ? { outcome: 'retry', waitSeconds: outcome.waitSeconds } : { outcome: 'stopped' };
      }
      case 'continue': {
        const ok = await store.checkpoint(event.tenant, event.jobId, { ...cp, state: outcome.state }, now);
        return ok ? { outcome: 'continue', ...heartbeatOf(agent) } : { outcome: 'stopped' };
      }
      case 'done': {
        const progress = { ...cp.progress, fraction: 1 };
        const ok = await store.succeed(event.tenant, event.jobId, outcome.result, { ...cp, progress }, now);
        return { outcome: ok ? 'done' : 'stopped' };
      }
    }
  }
}
