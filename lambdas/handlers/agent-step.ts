import { Logger } from '@aws-lambda-powertools/logger';
import { jobStoreFromEnv } from '../adapters/dynamo-job-store.js';
import type { AgentDefinition, StepOutcome } from '../agents/agent.js';
import { inputTimeoutOf, TransientStepError } from '../agents/agent.js';
import { findAgent } from '../agents/registry.js';
import type { AgentStepEvent, AgentStepResult } from '../config/workflow.js';
import type { JobErrorCode } from '../domain/errors.js';
import { isUsableSchema } from '../domain/input-answer.js';
import type { Job, JobProgress, JsonValue } from '../domain/job.js';
import { inputWait } from '../domain/job.js';
import { cappedProgressData } from '../domain/job-events.js';
import type { Checkpoint, StepSnapshot } from '../domain/job-store.js';

const logger = new Logger({ serviceName: 'agent-jobs' });
const store = jobStoreFromEnv();

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

/** Runs one step under the tighter of the step timeout and the job deadline, aborting the agent at it. */
async function runBounded<S>(
  agent: AgentDefinition<unknown, S>,
  snap: StepSnapshot,
  input: unknown,
  report: Report,
): Promise<StepOutcome<S>> {
  const jobLeftMs =
    new Date(snap.job.startedAt ?? snap.job.createdAt).getTime() +
    snap.job.timeoutSeconds * 1000 -
    Date.now();
  const stepMs = agent.stepTimeoutSeconds * 1000;
  if (jobLeftMs <= 0) throw new StepDeadline('job_timeout');
  const deadline = new StepDeadline(jobLeftMs < stepMs ? 'job_timeout' : 'step_timeout');
  const controller = new AbortController();
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
        },
      }),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One agent step: load the checkpoint, run the step, record its outcome with a conditional write.
 * A cancelled job is seen here (status no longer `running`) and nothing more is written. Agent
 * failures are returned, not thrown, so the workflow never retries them; TransientStepError is
 * thrown so the workflow retries with backoff.
 */
export const handler = async (event: AgentStepEvent): Promise<AgentStepResult> => {
  const snap = await store.loadForStep(event.tenant, event.jobId);
  if (snap?.job.status !== 'running') return { outcome: 'stopped' };
  const agent = findAgent(snap.job.agent);
  if (!agent) return failed('agent_error', `agent ${snap.job.agent} is not deployed`);
  const input = agent.inputSchema.safeParse(snap.job.input);
  if (!input.success) return failed('agent_error', 'the stored input no longer matches the agent schema');

  const step = snap.completedSteps + 1;
  const report: Report = { progress: { ...snap.job.progress, step }, data: null };
  let outcome: StepOutcome<unknown>;
  try {
    outcome = await runBounded(agent, snap, input.data, report);
  } catch (error) {
    if (error instanceof StepDeadline) return failed(error.code, `step ${step} did not finish in time`);
    if (error instanceof TransientStepError) throw error;
    logger.warn('agent step threw', { jobId: snap.job.id, step, error: error as Error });
    return failed(
      'agent_error',
      `step ${step} failed: ${(error as Error).message ?? 'unknown error'}`.slice(0, 1000),
    );
  }
  const invalid = invalidOutcome(outcome);
  if (invalid) return failed('agent_error', `step ${step} ${invalid}`);
  return record(event, snap.job, agent, outcome, {
    completedSteps: step,
    progress: report.progress,
    progressData: report.data,
  });
};

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
      return { outcome: ok ? 'continue' : 'stopped' };
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
