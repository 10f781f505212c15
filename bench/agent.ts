import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { INTERNAL_HANDLERS } from '../lambdas/config/routes.js';
import { executionArn, LAMBDA_TASKS } from '../lambdas/config/workflow.js';
import { costUsd, PRICES_AS_OF } from '../lambdas/domain/model-prices.js';
import { LOCAL_REGION } from '../lambdas/local/template.js';
import {
  type ChatTiming,
  type ReceivedRequest,
  type ScriptedAnswer,
  type ScriptedReply,
  ScriptedModelServer,
} from '../test/fixtures/scripted-model-server.js';
import { benchApi } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { jobCostParts, per1kJobs, POLLS_PER_JOB, streamInvocations } from './cost.js';
import { quiescence, requestsDuring } from './ddb-counter.js';
import { openStream, TERMINAL } from './events.js';
import { storedItemBytes } from './job.js';
import { executionSettled } from './settle.js';
import { percentile, round } from './stats.js';

/** The model id the bench stack's provider is configured with; the scripted server serves it. */
export const BENCH_MODEL = 'scripted-model';

/**
 * The scripted provider's latency per model call. Each reply is paced so its events span this
 * long; the figures subtract what the server actually took (its own clock), not this target.
 */
const PROVIDER_MS = 200;
/** An assistant job here: the model calls fetch_url twice, then answers; 3 model calls, 5 steps. */
const TOOL_CALLS = 2;
const MODEL_CALLS = TOOL_CALLS + 1;
/** Text chunks of the final answer, each carrying a marker the SSE client looks for. */
const ANSWER_CHUNKS = 10;
/**
 * Tokens the scripted model reports per call: a modest agent turn (instructions, tool schema and a
 * growing conversation in, a short answer or tool call out). Only the example model cost uses them.
 */
const TOKENS_PER_CALL = { prompt_tokens: 1_500, completion_tokens: 150 };
/** The model the example cost prices the counted tokens at (a small current model in the table). */
const EXAMPLE_MODEL = 'gpt-4.1-mini';

const marker = (job: string, chunk: number) => `<${job}.${chunk}>`;
const MARKER = /<(j\d+\.\d+)>/g;

/** The bench's scripted model: `[bench jN] URL` calls fetch_url on URL twice, then answers in marked chunks. */
function benchScript(request: ReceivedRequest): ScriptedReply {
  const messages = (request.body?.messages ?? []) as Array<{ role: string; content?: string | null }>;
  const prompt = messages.find((m) => m.role === 'user')?.content ?? '';
  const [, job, url] = /^\[bench (j\d+)\] (\S+)/.exec(prompt) ?? [];
  if (!job || !url) return { kind: 'error', status: 400 };
  const results = messages.filter((m) => m.role === 'tool').length;
  if (results < TOOL_CALLS) {
    // Six events (role, tool call, its arguments in one piece, finish, usage, [DONE]).
    const call = { id: `call_${results + 1}`, name: 'fetch_url', arguments: { url } };
    return pacedAnswer({ toolCalls: [call], argumentsChunkChars: 10_000 }, 6);
  }
  const text = Array.from({ length: ANSWER_CHUNKS }, (_, i) => `${marker(job, i)} word${i} `);
  return pacedAnswer({ text }, ANSWER_CHUNKS + 4);
}

const pacedAnswer = (reply: Partial<ScriptedAnswer>, events: number): ScriptedAnswer => ({
  kind: 'answer',
  usage: TOKENS_PER_CALL,
  chunkDelayMs: Math.round(PROVIDER_MS / events),
  ...reply,
});

/** Started before the stack, whose provider points at it (see run.ts). */
export function startBenchModel(): Promise<ScriptedModelServer> {
  return new ScriptedModelServer({ script: benchScript, models: [BENCH_MODEL] }).start();
}

interface AssistantJob {
  id: string;
  startedAt: string;
  completedAt: string;
  status: string;
  usage: { inputTokens: number; outputTokens: number; modelCalls: number };
}

/**
 * The `assistant` agent on the local stack against a scripted OpenAI-compatible provider with a
 * fixed latency: per-model-call overhead, streamed text's way to an SSE client, DynamoDB writes per
 * model call, and what 1,000 such jobs cost in AWS beside what their tokens cost at a model's price.
 */
export async function benchAgent(ctx: BenchContext, model: ScriptedModelServer): Promise<Figures> {
  const page = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  page.listen(0, '127.0.0.1');
  await once(page, 'listening');
  const pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/page`;
  const sfn = new SFNClient({
    region: LOCAL_REGION,
    endpoint: ctx.stack.endpoints.sfn,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const run = new AgentRun(ctx, model, pageUrl, sfn);
  try {
    return {
      ...(await run.overhead(ctx.quick ? 4 : 20, ctx.quick ? 2 : 10)),
      ...(await run.deltas(ctx.quick ? 2 : 10)),
      ...(await run.lifecycle()),
    };
  } finally {
    sfn.destroy();
    page.close();
  }
}

class AgentRun {
  private readonly api;
  private jobs = 0;

  constructor(
    private readonly ctx: BenchContext,
    private readonly model: ScriptedModelServer,
    private readonly pageUrl: string,
    private readonly sfn: SFNClient,
  ) {
    this.api = benchApi(ctx.stack.url, ctx.apiKey);
  }

  /** Submits one job, tagged so the model server's timings of its calls can be told apart. */
  private async submit(): Promise<{ id: string; tag: string }> {
    const tag = `j${++this.jobs}`;
    const job = await this.api.submit({
      agent: 'assistant',
      input: { prompt: `[bench ${tag}] ${this.pageUrl}`, serverTools: ['fetch_url'] },
    });
    return { id: job.id, tag };
  }

  private async finished(id: string): Promise<AssistantJob> {
    await executionSettled(this.ctx, id);
    const job = (await this.api.get(id)) as unknown as AssistantJob;
    if (job.status !== 'succeeded') throw new Error(`assistant job ${id} ended ${job.status}`);
    if (job.usage.modelCalls !== MODEL_CALLS) throw new Error(`job ${id} made ${job.usage.modelCalls} calls`);
    return job;
  }

  /** The model server's timings of the calls made for `tag`'s job (found by its prompt). */
  private callsOf(tag: string): ChatTiming[] {
    return this.model.chatTimings.filter((t) =>
      JSON.stringify(t.request.body ?? {}).includes(`[bench ${tag}]`),
    );
  }

  /**
   * `agent.modelStep.overheadMs`: jobs run one at a time on a quiet stack with nothing watching them
   * (the bench waits on the execution in-process: no polls or streams load the stack). Per job: from running
   * (the execution's start, the job's `startedAt`) to terminal (the success write, `completedAt`),
   * minus the time the scripted provider spent on the job's model calls by its own clock (request
   * read to response finished), divided by the model calls. What remains is everything the product
   * adds per model call: the step invocations (the first one hands the heartbeat form over), the
   * checkpoint read and writes, the delta and tool-call event writes, task-token callbacks, state
   * transitions, the HTTP client's connection and parsing, and the server tool steps between calls
   * (a fetch of a loopback page). Step Functions' own latency between states is the local runner's.
   *
   * The figure is the steady state of a warm stack, as Lambda keeps a busy function's containers:
   * the first jobs on a fresh stack also pay the JIT compilation of the stack's code and of DynamoDB
   * Local's (about 90 ms per call on the first job, most of the way to the steady level by the tenth), so
   * `warmup` jobs run first, untimed but logged.
   */
  async overhead(samples: number, warmup: number): Promise<Figures> {
    const warm: number[] = [];
    for (let i = 0; i < warmup; i++) warm.push(round((await this.timedJob()).overhead));
    this.ctx.log(`warm-up: ${warmup} assistant jobs, overhead per model call (ms):`, warm);
    this.ctx.log(
      `timing ${samples} assistant jobs of ${MODEL_CALLS} model calls (${PROVIDER_MS} ms each)...`,
    );
    const overheads: number[] = [];
    const providerMs: number[] = [];
    const steps: Record<string, number[]> = {};
    for (let i = 0; i < samples; i++) {
      const { id, overhead, provider } = await this.timedJob();
      overheads.push(overhead);
      providerMs.push(provider);
      const perState: Record<string, number> = {};
      for (const v of stateVisits(await this.history(id)))
        perState[v.state] = (perState[v.state] ?? 0) + v.ms;
      for (const [state, ms] of Object.entries(perState)) (steps[state] ??= []).push(ms);
    }
    // Where the time goes, for the reader of the log: each state's median total per job.
    this.ctx.log(
      'per-job time in each state (p50 ms):',
      Object.fromEntries(Object.entries(steps).map(([s, ms]) => [s, round(percentile(ms, 50))])),
    );
    return {
      'agent.modelStep.overheadMs.p50': round(percentile(overheads, 50)),
      'agent.modelStep.overheadMs.p99': round(percentile(overheads, 99)),
      'agent.modelStep.providerMs.p50': round(percentile(providerMs, 50)),
      'agent.modelStep.samples': samples,
      'agent.modelStep.warmupJobs': warmup,
    };
  }

  /** One job on a quiet stack: its overhead and the provider's time, each per model call. */
  private async timedJob(): Promise<{ id: string; overhead: number; provider: number }> {
    // The previous job's stream consumers are done: each job runs on a quiet stack.
    await quiescence(this.ctx.counter);
    const { id, tag } = await this.submit();
    const job = await this.finished(id);
    const provider = this.callsOf(tag).reduce((sum, c) => sum + (c.endedAt! - c.receivedAt), 0);
    const runMs = Date.parse(job.completedAt) - Date.parse(job.startedAt);
    return { id, overhead: (runMs - provider) / MODEL_CALLS, provider: provider / MODEL_CALLS };
  }

  /**
   * `agent.deltaToSse.p50Ms`: one SSE client per job on GET /v1/jobs/{id}/stream over real HTTP,
   * opened right after the submit. Each text chunk of the final answer carries a marker; the model
   * server stamps when it wrote the chunk, the client when a `job.output.delta` holding that marker
   * arrived. The way in between: the provider client's parsing, the delta batcher (by design up to
   * 200 ms or 500 characters), the job item write, the stream consumer's append to the event log
   * (the local stream poller reads every 25-250 ms, as Lambda's poller does about 4 times a
   * second), and the SSE handler's next read of the log (its idle backoff).
   */
  async deltas(jobs: number): Promise<Figures> {
    this.ctx.log(`timing streamed text from the provider to an SSE client over ${jobs} jobs...`);
    const latencies: number[] = [];
    for (let i = 0; i < jobs; i++) {
      const { id, tag } = await this.submit();
      const received = await this.deltaArrivals(id);
      const sent = new Map<string, number>();
      for (const call of this.callsOf(tag))
        for (const { at, event } of call.sent) for (const [, m] of event.matchAll(MARKER)) sent.set(m!, at);
      for (const [m, at] of received) {
        const sentAt = sent.get(m);
        if (sentAt === undefined) throw new Error(`marker ${m} was never sent`);
        latencies.push(at - sentAt);
      }
      if (received.size !== ANSWER_CHUNKS) throw new Error(`job ${id}: ${received.size} markers arrived`);
      await this.finished(id);
    }
    return {
      'agent.deltaToSse.p50Ms': round(percentile(latencies, 50)),
      'agent.deltaToSse.p99Ms': round(percentile(latencies, 99)),
      'agent.deltaToSse.samples': latencies.length,
    };
  }

  /** When each marker first arrived in a `job.output.delta` on the job's SSE stream, until its terminal event. */
  private async deltaArrivals(id: string): Promise<Map<string, number>> {
    const arrivals = new Map<string, number>();
    const source = openStream(this.ctx, id);
    await new Promise<void>((resolve, reject) => {
      source.addEventListener('job.output.delta', (e) => {
        const at = Date.now();
        const text = (JSON.parse(e.data) as { data: { text: string } }).data.text;
        for (const [, m] of text.matchAll(MARKER)) if (!arrivals.has(m!)) arrivals.set(m!, at);
      });
      for (const type of TERMINAL) source.addEventListener(type, () => resolve());
      source.addEventListener('error', (e) => {
        if (source.readyState === source.CLOSED) reject(new Error(`stream closed: ${e.message}`));
      });
    }).finally(() => source.close());
    return arrivals;
  }

  /**
   * One job counted whole: DynamoDB requests from after its submit until the stack is quiet again
   * (stream consumers included), its execution history (state transitions, step invocations and
   * how long each step task took), its stored size and counted tokens; then the cost model.
   * `agent.ddbWritesPerModelCall` counts every write request the job caused after its submit (the
   * handlers' and the workflow's DynamoDB tasks') over its model calls; write units, table and
   * indexes, are as DynamoDB Local reports them for those requests.
   */
  async lifecycle(): Promise<Figures> {
    this.ctx.log('counting DynamoDB requests, transitions and step durations of one assistant job...');
    let id = '';
    let submit = this.ctx.counter.snapshot();
    const counted = await requestsDuring(
      this.ctx.counter,
      async () => {
        const before = this.ctx.counter.snapshot();
        id = (await this.submit()).id;
        submit = this.ctx.counter.since(before);
        await executionSettled(this.ctx, id);
      },
      { untilQuiet: true },
    );
    const job = await this.finished(id);
    const visits = stateVisits(await this.history(id));
    const itemBytes = await storedItemBytes(this.ctx, id);
    // After the submit: what running the job writes.
    const writes = counted.writes - submit.writes;
    const writeUnits = counted.writeUnits - submit.writeUnits;
    const steps = visits.filter((v) => LAMBDA_TASKS[v.state] === INTERNAL_HANDLERS.agentStep);
    const stepMs = steps.reduce((sum, v) => sum + v.ms, 0);
    const poll = await requestsDuring(this.ctx.counter, () => this.api.get(id));
    // The submit's and the job's writes to the job item, not to its event items (one per event).
    const eventItems = await this.eventCount(id);
    const itemWrites = 1 + writes - eventItems;
    this.ctx.log(
      `after the submit: ${writes} writes (${itemWrites - 1} to the job item, ${eventItems} event items), ` +
        `${counted.reads - submit.reads} reads`,
    );
    const cost = this.costParts({
      transitions: visits.length,
      steps: steps.length,
      stepMs,
      itemWrites,
      writeUnits: counted.writeUnits,
      reads: counted.reads + POLLS_PER_JOB * poll.reads,
      consistentReads: counted.consistentReads + POLLS_PER_JOB * poll.consistentReads,
      readUnits: Math.ceil(itemBytes / 4096),
    });
    const usage = {
      ...job.usage,
      totalTokens: job.usage.inputTokens + job.usage.outputTokens,
      costUsd: null,
    };
    const modelUsd = costUsd(EXAMPLE_MODEL, usage);
    if (modelUsd === null) throw new Error(`${EXAMPLE_MODEL} has no price in the model price table`);
    this.ctx.log(`example model cost: ${EXAMPLE_MODEL} at list prices as of ${PRICES_AS_OF}`);
    return {
      'agent.ddbWritesPerModelCall': round(writes / MODEL_CALLS),
      'agent.ddbWriteUnitsPerModelCall': round(writeUnits / MODEL_CALLS),
      'agent.sfnTransitionsPerJob': visits.length,
      'agent.stepInvocationsPerJob': steps.length,
      ...per1kJobs('cost.per1kAssistantJobs', cost),
      'cost.per1kAssistantJobs.exampleModelUsd': round(modelUsd * 1000, 4),
      'cost.per1kAssistantJobs.tokensPerJob': usage.totalTokens,
    };
  }

  /**
   * `cost.per1kAssistantJobs`: the echo cost model's prices and assumptions (bench/cost.ts) applied
   * to this job's counts: a submit and 5 polls, every state transition, each step invocation
   * billed for its measured duration (it waits on the model call: with real models' latency of
   * seconds, the Lambda part grows in proportion), the events consumer invoked once per job item
   * write (its filter takes every one; at low traffic records do not share a batch), the other
   * stream consumer once per job as for echo jobs, DynamoDB units as counted.
   */
  private costParts(c: {
    transitions: number;
    steps: number;
    stepMs: number;
    itemWrites: number;
    writeUnits: number;
    reads: number;
    consistentReads: number;
    readUnits: number;
  }) {
    return jobCostParts(
      {
        apiRequests: 1 + POLLS_PER_JOB,
        invocations: {
          'create-job': 1,
          'get-job': POLLS_PER_JOB,
          [INTERNAL_HANDLERS.agentStep]: c.steps,
          ...streamInvocations(this.ctx.stack.template, 1),
          [INTERNAL_HANDLERS.appendEvents]: c.itemWrites,
        },
        billedMs: { [INTERNAL_HANDLERS.agentStep]: Math.ceil(c.stepMs / c.steps) },
        transitions: c.transitions,
        writeUnits: c.writeUnits,
        consistentReadUnits: c.consistentReads * c.readUnits,
        eventualReadUnits: (c.reads - c.consistentReads) * c.readUnits,
      },
      this.ctx.stack.template,
    );
  }

  private async eventCount(id: string): Promise<number> {
    const res = await fetch(`${this.ctx.stack.url}/v1/jobs/${id}/events?limit=1000`, {
      headers: { authorization: `Bearer ${this.ctx.apiKey}` },
    });
    if (res.status !== 200) throw new Error(`events of ${id} answered ${res.status}`);
    return ((await res.json()) as { items: unknown[] }).items.length;
  }

  private async history(id: string): Promise<HistoryEvent[]> {
    const out = await this.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: executionArn(this.ctx.stack.stateMachineArn, id),
        maxResults: 1000,
      }),
    );
    return out.events ?? [];
  }
}

/** Each state the execution entered, with how long it stayed (0 for one it never left). */
function stateVisits(history: HistoryEvent[]): Array<{ state: string; ms: number }> {
  const visits: Array<{ state: string; enteredAt: number; ms: number }> = [];
  for (const e of history) {
    const at = e.timestamp?.getTime() ?? 0;
    const entered = e.stateEnteredEventDetails?.name;
    if (entered) visits.push({ state: entered, enteredAt: at, ms: 0 });
    const exited = e.stateExitedEventDetails?.name;
    const open = exited && visits.findLast((v) => v.state === exited);
    if (open) open.ms = at - open.enteredAt;
  }
  return visits.map(({ state, ms }) => ({ state, ms }));
}
