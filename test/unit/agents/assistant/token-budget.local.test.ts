import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynamoTokenBudget } from '../../../../lambdas/adapters/dynamo-token-budget.js';
import type { StepContext } from '../../../../lambdas/agents/agent.js';
import type { AssistantStepState } from '../../../../lambdas/agents/assistant/assistant-agent.js';
import { type AssistantInput, assistantInputSchema } from '../../../../lambdas/agents/assistant/input.js';
import { initialState } from '../../../../lambdas/agents/assistant/loop.js';
import { estimatedTokens } from '../../../../lambdas/domain/token-budget.js';
import type { ScriptedReply } from '../../../fixtures/scripted-model-server.js';
import { useJobsTable } from '../../support/dynamodb-local.js';
import { scriptedAssistant } from './scripted-assistant.js';

const TABLE = 'agent-jobs-assistant-budget-test';
const PER_MINUTE = 6_000; // 10 ms of window per token
const USAGE = { prompt_tokens: 11, completion_tokens: 7 };

let doc: DynamoDBDocumentClient;
let seq = 0;
const freshTenant = () => `budget-${process.pid}-${++seq}`;
useJobsTable(TABLE, (client) => (doc = client));

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const bucketKey = (tenant: string) => ({ PK: `RATE#${tenant}`, SK: 'TOKENS' });
const storedTat = async (tenant: string) =>
  (await doc.send(new GetCommand({ TableName: TABLE, Key: bucketKey(tenant) }))).Item?.tat as
    number | undefined;

async function setup(script: ScriptedReply[]) {
  const budget = new DynamoTokenBudget(TABLE, async () => PER_MINUTE, doc);
  const { server, agent } = await scriptedAssistant(script, budget, { random: () => 0 });
  closers.push(() => server.close());
  return { server, agent, budget };
}

/** What the steps handed over to run beside their writes; the runner waits for it before a step ends. */
const alongside: Promise<unknown>[] = [];
const sideWorkDone = () => Promise.all(alongside.splice(0));

function context(
  tenant: string,
  input: AssistantInput,
  over: Partial<StepContext<AssistantInput, AssistantStepState>> = {},
): StepContext<AssistantInput, AssistantStepState> {
  return {
    jobId: 'job_budget',
    tenant,
    input,
    state: null,
    completedSteps: 0,
    earlierAttemptEmitted: false,
    signal: new AbortController().signal,
    answer: undefined,
    progress: () => {},
    heartbeat: () => {},
    emit: async () => true,
    alongside: (work) => alongside.push(work),
    takePrepared: () => undefined,
    ...over,
  };
}

// A short prompt and 200 tokens of output: a reservation of a little over 200 tokens, about 2 s.
const input = assistantInputSchema.parse({ prompt: 'Hello?', maxOutputTokens: 200 });

describe('the assistant under a token budget', () => {
  it('settles the reservation with the usage the provider reported, and reports the answered call', async () => {
    const { agent } = await setup([{ kind: 'answer', text: ['Hi.'], usage: USAGE }]);
    const tenant = freshTenant();
    const before = Date.now();
    const outcome = await agent.step(context(tenant, input));
    await sideWorkDone();
    expect(outcome).toMatchObject({
      type: 'done',
      modelCall: { model: 'scripted-model', usage: { inputTokens: 11, outputTokens: 7 } },
    });
    // 18 tokens held at 10 ms each from the reservation's instant on.
    const tat = (await storedTat(tenant))!;
    expect(tat - before).toBeGreaterThanOrEqual(180);
    expect(tat - Date.now()).toBeLessThanOrEqual(180);
  });

  it('over budget makes no call and waits the time the budget needs, not counted as a failed attempt', async () => {
    const { server, agent } = await setup([{ kind: 'answer', text: ['Hi.'], usage: USAGE }]);
    const tenant = freshTenant();
    // The bucket is spoken for until 5 s from now: 3 s past the window's end for a 2 s reservation.
    const until = Date.now() + 65_000;
    await doc.send(new PutCommand({ TableName: TABLE, Item: { ...bucketKey(tenant), tat: until } }));
    const outcome = await agent.step(context(tenant, input));
    expect(outcome).toMatchObject({
      type: 'retry',
      state: { modelCalls: 0 },
      message: expect.stringMatching(
        /^waiting for the token budget \(6000 tokens per minute\); model call 1 in \d s$/,
      ),
    });
    const waitSeconds = (outcome as { waitSeconds: number }).waitSeconds;
    expect(waitSeconds).toBeGreaterThanOrEqual(7);
    expect(waitSeconds).toBeLessThanOrEqual(8);
    expect((outcome as { state: AssistantStepState }).state.failedAttempts).toBeUndefined();
    expect(server.chatBodies).toHaveLength(0);
    expect(await storedTat(tenant)).toBe(until);
  });

  it('refunds the whole reservation when the call gets no answer', async () => {
    const { agent } = await setup([{ kind: 'error', status: 503 }]);
    const tenant = freshTenant();
    const until = Date.now() + 30_000;
    await doc.send(new PutCommand({ TableName: TABLE, Item: { ...bucketKey(tenant), tat: until } }));
    const outcome = await agent.step(context(tenant, input));
    await sideWorkDone();
    expect(outcome).toMatchObject({ type: 'retry', state: { failedAttempts: 1 } });
    expect(await storedTat(tenant)).toBe(until);
  });

  describe("the next model call's tokens, reserved while its job is read", () => {
    // An answer whose only tool call names no tool: its error goes back to the model, whose next
    // call follows at once.
    const unknownTool = {
      kind: 'answer' as const,
      text: ['Hm.'],
      toolCalls: [{ id: 'call_1', name: 'no_such_tool', arguments: {} }],
      usage: USAGE,
    };

    /** Step 1's checkpoint, the estimate the agent names for step 2 from it, and step 2 itself. */
    async function afterFirstCall(tenant: string) {
      const { agent, budget } = await setup([unknownTool, { kind: 'answer', text: ['Done.'], usage: USAGE }]);
      const first = await agent.step(context(tenant, input));
      await sideWorkDone();
      expect(first).toMatchObject({ type: 'continue' });
      const { state } = first as { state: AssistantStepState };
      const prepare = agent.prepareFor!({ input, state });
      expect(prepare).toEqual({ tokens: expect.any(Number) });
      const secondStep = (taken: Promise<unknown> | undefined) =>
        agent.step(context(tenant, input, { state, completedSteps: 1, takePrepared: () => taken }));
      return { agent, budget, prepare, secondStep, reserve: vi.spyOn(budget, 'reserve') };
    }

    it('the call takes the reservation made with the estimate handed over: no reservation of its own', async () => {
      const tenant = freshTenant();
      const { agent, prepare, secondStep, reserve } = await afterFirstCall(tenant);
      const work = agent.prepare!(tenant, prepare!)!;

      expect(await secondStep(work.result)).toMatchObject({ type: 'done', result: { output: 'Done.' } });
      await sideWorkDone();

      expect(reserve).toHaveBeenCalledTimes(1);
      // Both calls' 18 tokens each remain charged, at 10 ms a token.
      expect((await storedTat(tenant))! - Date.now()).toBeLessThanOrEqual(360);
    });

    it('a reservation smaller than the call needs is released and the call reserves its own', async () => {
      const tenant = freshTenant();
      const { agent, secondStep, reserve } = await afterFirstCall(tenant);
      const work = agent.prepare!(tenant, { tokens: 1 })!;

      expect(await secondStep(work.result)).toMatchObject({ type: 'done' });
      await sideWorkDone();

      expect(reserve.mock.calls.map((c) => c[1])).toEqual([1, expect.any(Number)]);
      expect(reserve.mock.calls[1]![1]).toBeGreaterThan(200);
      expect((await storedTat(tenant))! - Date.now()).toBeLessThanOrEqual(360);
    });

    it('discarding a reservation no step took gives its tokens back', async () => {
      const tenant = freshTenant();
      const { agent } = await setup([]);
      const before = Date.now();
      const work = agent.prepare!(tenant, { tokens: 300 })!;
      await work.result;
      expect((await storedTat(tenant))! - before).toBeGreaterThanOrEqual(3_000);

      await work.discard();

      expect((await storedTat(tenant))! - Date.now()).toBeLessThanOrEqual(0);
    });

    it('names the tokens of the call a checkpoint leads to, and nothing when an answer or a tool comes first', async () => {
      const { agent } = await setup([]);
      const request = { messages: [{ role: 'user' as const, content: 'Hello?' }], maxOutputTokens: 200 };
      expect(agent.prepareFor!({ input, state: null })).toEqual({ tokens: estimatedTokens(request) });
      const waiting = { ...initialState(input), awaitingAnswer: true };
      expect(agent.prepareFor!({ input, state: waiting })).toBeUndefined();
      const call = { id: 'c1', name: 'fetch_url', arguments: { url: 'http://x' }, kind: 'server' as const };
      const toolNext = { ...initialState(input), pending: { step: 1, calls: [call], results: {} } };
      expect(agent.prepareFor!({ input, state: toolNext })).toBeUndefined();
    });

    it('prepares nothing from a value that is not an estimate', async () => {
      const { agent } = await setup([]);
      expect(agent.prepare!(freshTenant(), { tokens: 'many' })).toBeUndefined();
      expect(agent.prepare!(freshTenant(), null)).toBeUndefined();
    });
  });
});
