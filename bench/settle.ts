import { executionArn } from '../lambdas/config/workflow.js';
import type { BenchContext } from './context.js';
import { quiescence } from './ddb-counter.js';

/** Resolves once the job's execution has finished; the stream consumer starts it a moment after the submit. */
export async function executionSettled(ctx: BenchContext, jobId: string): Promise<void> {
  const arn = executionArn(ctx.stack.stateMachineArn, jobId);
  for (;;) {
    const started = await ctx.stack.sfn.settled(arn).then(
      () => true,
      (e: unknown) => {
        if ((e as Error).name !== 'ExecutionDoesNotExist') throw e;
        return false;
      },
    );
    if (started) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Until the jobs' executions have finished and the stream consumers have gone quiet for `quietMs`:
 * nothing those jobs set off is still running in the stack's process.
 */
export async function jobsSettled(ctx: BenchContext, jobIds: string[], quietMs: number): Promise<void> {
  await Promise.all(jobIds.map((id) => executionSettled(ctx, id)));
  await quiescence(ctx.counter, quietMs);
}
