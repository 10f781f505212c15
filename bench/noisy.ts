import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { isTerminal, type JobStatus } from '../lambdas/domain/job.js';
import { lambdaContext } from '../lambdas/local/lambda-context.js';
import type { BenchContext, Figures } from './context.js';
import { getEvent, submitEvent } from './limits.js';
import { runConcurrently } from './pool.js';
import { percentile, round } from './stats.js';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A request rate nothing in the run reaches: the figure is about admission, not the rate limit. */
const LIMIT = 1_000_000;
const NOISY_CONCURRENCY = 16;
const QUIET_CONCURRENCY = 3;
const POLL_MS = 50;

interface JobView {
  status: string;
  createdAt: string;
  startedAt: string | null;
}

/**
 * How long a quiet tenant's jobs wait to start (`createdAt` to `startedAt`) while another tenant
 * floods the stack with submits on the built-in limits (10 running, the rest queued), against the
 * same tenant alone earlier in the same run. Handlers are called in-process with the authorizer's
 * context, as the stack would after its authorizer; the jobs run through the stack's stream
 * consumers and workflow.
 */
export async function benchNoisyTenant(ctx: BenchContext): Promise<Figures> {
  const { handler: createJob } = (await import('../lambdas/handlers/create-job.js')) as { handler: Handler };
  const { handler: getJob } = (await import('../lambdas/handlers/get-job.js')) as { handler: Handler };
  const run = Date.now().toString(36);
  const quiet = { tenant: `bench-quiet-${run}`, requestsPerMinute: LIMIT };
  const noisy = { tenant: `bench-noisy-${run}`, requestsPerMinute: LIMIT };
  const quietJobs = ctx.quick ? 40 : 100;
  const noisySubmits = ctx.quick ? 500 : 1_000;

  const submit = async (authorizer: Record<string, unknown>) => {
    const res = await createJob(submitEvent(authorizer), lambdaContext('create-job', 30_000));
    if (res.statusCode !== 202) throw new Error(`submit answered ${res.statusCode}`);
    return (JSON.parse(res.body) as { id: string }).id;
  };
  const poll = async (authorizer: Record<string, unknown>, id: string, until: (job: JobView) => boolean) => {
    for (;;) {
      const res = await getJob(getEvent(authorizer, id), lambdaContext('get-job', 30_000));
      const job = JSON.parse(res.body) as JobView;
      if (until(job)) return job;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const startDelay = async (id: string) => {
    const job = await poll(quiet, id, (j) => j.startedAt !== null);
    return Date.parse(job.startedAt!) - Date.parse(job.createdAt);
  };
  const quietPhase = async () => {
    const delays = await runConcurrently(quietJobs, QUIET_CONCURRENCY, async () =>
      startDelay(await submit(quiet)),
    );
    return delays.map((d) => {
      if (d.status === 'rejected') throw d.reason;
      return d.value;
    });
  };

  const alone = await quietPhase();
  const flood = runConcurrently(noisySubmits, NOISY_CONCURRENCY, () => submit(noisy));
  const beside = await quietPhase();
  const ids = (await flood).map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  // Jobs start in submit order: the last one finished, the backlog is gone and cannot slow the next module.
  await poll(noisy, ids.at(-1)!, (j) => isTerminal(j.status as JobStatus));
  ctx.log(`noisy: ${quietJobs} quiet jobs alone, then beside ${noisySubmits} noisy submits`);
  const aloneP99 = percentile(alone, 99);
  const besideP99 = percentile(beside, 99);
  return {
    'limits.quietTenantStartDelay.p99Ms': round(besideP99),
    'limits.quietTenantStartDelay.aloneP99Ms': round(aloneP99),
    'limits.quietTenantStartDelay.ratio': round(besideP99 / aloneP99, 3),
  };
}
