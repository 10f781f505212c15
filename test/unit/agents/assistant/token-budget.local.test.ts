import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoTokenBudget } from '../../../../lambdas/adapters/dynamo-token-budget.js';
import { OpenAiCompatibleProvider } from '../../../../lambdas/adapters/models/openai-compatible.js';
import type { StepContext } from '../../../../lambdas/agents/agent.js';
import {
  type AssistantStepState,
  createAssistantAgent,
} from '../../../../lambdas/agents/assistant/assistant-agent.js';
import { type AssistantInput, assistantInputSchema } from '../../../../lambdas/agents/assistant/input.js';
import { type ScriptedReply, ScriptedModelServer } from '../../../fixtures/scripted-model-server.js';
import { useJobsTable } from '../../support/dynamodb-local.js';

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
  const server = await new ScriptedModelServer({ script, models: ['scripted-model'] }).start();
  closers.push(() => server.close());
  const provider = new OpenAiCompatibleProvider({ baseUrl: server.baseUrl, defaultModel: 'scripted-model' });
  const budget = new DynamoTokenBudget(TABLE, async () => PER_MINUTE, doc);
  const agent = createAssistantAgent({
    provider: async () => provider,
    unavailableReason: () => undefined,
    deployment: () => 'local',
    maxAttempts: () => 3,
    recordModelCall: () => {},
    tokenBudget: () => budget,
    random: () => 0,
  });
  return { server, agent };
}

/** What the steps handed over to run beside their writes; the runner waits for it before a step ends. */
const alongside: Promise<unknown>[] = [];
const sideWorkDone = () => Promise.all(alongside.splice(0));

function context(tenant: string, input: AssistantInput): StepContext<AssistantInput, AssistantStepState> {
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
});
