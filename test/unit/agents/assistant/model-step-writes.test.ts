import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../../../lambdas/adapters/dynamo-job-store.js';
import { DynamoTokenBudget } from '../../../../lambdas/adapters/dynamo-token-budget.js';
import type { AgentDefinition } from '../../../../lambdas/agents/agent.js';
import { StepRunner, type TaskCallbacks } from '../../../../lambdas/agents/step-runner.js';
import type { ScriptedReply } from '../../../fixtures/scripted-model-server.js';
import { JOB_ID, storedJob, TENANT } from '../../support/fixtures.js';
import { scriptedAssistant } from './scripted-assistant.js';

const TABLE = 'jobs-model-step';
const ddb = mockClient(DynamoDBDocumentClient);
const doc = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
);
const USAGE = { prompt_tokens: 11, completion_tokens: 7 };
const TOKEN = 'task-token-1';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** What happened, in order, as the test doubles saw it. */
let timeline: string[] = [];

beforeEach(() => {
  ddb.reset();
  timeline = [];
  ddb.on(UpdateCommand).resolves({ Attributes: { tat: Date.now() + 1_000 } });
  ddb.on(TransactWriteCommand).resolves({});
});

const tasks: TaskCallbacks = {
  heartbeat: async () => true,
  succeed: async () => {
    timeline.push('task succeeded');
    return true;
  },
  fail: async () => true,
};

const logger = { info: () => {}, warn: () => {}, error: () => {} };

/** A running `assistant` job at its first step, with the scripted model behind it. */
async function assistantStep(script: ScriptedReply[]) {
  const { server, agent } = await scriptedAssistant(
    script,
    new DynamoTokenBudget(TABLE, async () => 60_000, doc),
  );
  closers.push(() => server.close());
  ddb.on(GetCommand).resolves({
    Item: storedJob({
      status: 'running',
      agent: 'assistant',
      startedAt: new Date().toISOString(),
      createdAt: new Date().toISOString(),
      input: { prompt: 'Hello?', maxSteps: 8, serverTools: ['fetch_url'] },
    }),
  });
  const runner = new StepRunner({
    store: new DynamoJobStore(TABLE, doc),
    tasks,
    findAgent: () => agent as unknown as AgentDefinition<unknown, unknown>,
    logger,
  });
  return () => runner.runAndReport({ tenant: TENANT, jobId: JOB_ID }, TOKEN);
}

const isTokenBucket = (input: UpdateCommandInput) => input.Key?.SK === 'TOKENS';

/** The writes to the job's own item, plain or as the job's part of a step's transaction. */
const jobWrites = () =>
  ddb.calls().flatMap((call) => {
    const command = call.args[0];
    if (command instanceof UpdateCommand && !isTokenBucket(command.input)) return [command.input];
    if (command instanceof TransactWriteCommand) return [command.input.TransactItems![0]!.Update!];
    return [];
  });
const bucketWrites = () => ddb.commandCalls(UpdateCommand).filter((c) => isTokenBucket(c.args[0].input));

describe("the assistant's model step: its writes", () => {
  it("announces the answer's text with the job's success: one write to the job item", async () => {
    const step = await assistantStep([{ kind: 'answer', text: ['Hello ', 'there.'], usage: USAGE }]);

    await step();

    expect(jobWrites()).toHaveLength(1);
    const [write] = jobWrites();
    expect(write!.ExpressionAttributeValues).toMatchObject({
      ':eventTypes': ['job.output.delta', 'job.progress', 'job.succeeded'],
      ':eventCount': 3,
      ':eventData': [{ step: 1, text: 'Hello there.' }],
      ':succeeded': 'succeeded',
    });
    expect(write!.UpdateExpression).toContain('lastEventData = :eventData');
    expect(write!.UpdateExpression).not.toMatch(/REMOVE .*lastEventData/);
    // The reservation, then its settlement.
    expect(bucketWrites()).toHaveLength(2);
    expect(timeline).toEqual(['task succeeded']);
  });

  it("checkpoints the answer with its tool calls' events, after its text", async () => {
    const step = await assistantStep([
      {
        kind: 'answer',
        text: ['Let me look.'],
        toolCalls: [{ id: 'call_1', name: 'fetch_url', arguments: { url: 'http://127.0.0.1:9/x' } }],
        usage: USAGE,
      },
    ]);

    await step();

    expect(jobWrites()[0]!.ExpressionAttributeValues).toMatchObject({
      ':eventTypes': ['job.output.delta', 'job.tool_call', 'job.progress'],
      ':eventData': [
        { step: 1, text: 'Let me look.' },
        { step: 1, id: 'call_1', name: 'fetch_url', arguments: { url: 'http://127.0.0.1:9/x' } },
      ],
      ':steps': 1,
    });
  });

  it("runs the answer's server tool call after the answer is checkpointed, in the same invocation", async () => {
    const page = createServer((_req, res) => {
      timeline.push('page fetched');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('Tuesday');
    });
    page.listen(0, '127.0.0.1');
    await once(page, 'listening');
    closers.push(() => new Promise((resolve) => page.close(() => resolve())));
    const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/doc`;
    const step = await assistantStep([
      {
        kind: 'answer',
        text: ['Let me look.'],
        toolCalls: [{ id: 'call_1', name: 'fetch_url', arguments: { url } }],
        usage: USAGE,
      },
    ]);
    ddb.on(TransactWriteCommand).callsFake(async () => {
      timeline.push('answer checkpointed');
      return {};
    });
    ddb.on(UpdateCommand).callsFake(async (input: UpdateCommandInput) => {
      if (isTokenBucket(input)) return { Attributes: { tat: Date.now() + 1_000 } };
      timeline.push(`step ${String(input.ExpressionAttributeValues?.[':steps'])} checkpointed`);
      return {};
    });

    await step();

    expect(timeline).toEqual([
      'answer checkpointed',
      'page fetched',
      'step 2 checkpointed',
      'task succeeded',
    ]);
    const toolStep = jobWrites()[1]!.ExpressionAttributeValues!;
    expect(toolStep[':expected']).toBe(1);
    const pending = (toolStep[':state'] as { pending: { results: Record<string, unknown> } }).pending;
    expect(pending.results.call_1).toEqual({
      output: { status: 200, contentType: 'text/plain', text: 'Tuesday' },
      isError: false,
    });
  });

  it("settles the tokens while the step's write is in flight, and reports the step once both are done", async () => {
    const step = await assistantStep([{ kind: 'answer', text: ['Hi.'], usage: USAGE }]);
    let releaseJobWrite!: () => void;
    const jobWriteHeld = new Promise<void>((resolve) => (releaseJobWrite = resolve));
    ddb.on(TransactWriteCommand).callsFake(async (input: TransactWriteCommandInput) => {
      timeline.push('job write sent');
      await jobWriteHeld;
      timeline.push(`job write done (${String(input.TransactItems?.length)} items)`);
      return {};
    });
    let bucketCalls = 0;
    ddb.on(UpdateCommand).callsFake(async (input: UpdateCommandInput) => {
      if (!isTokenBucket(input)) return {};
      if (++bucketCalls === 1) return { Attributes: { tat: Date.now() + 1_000 } };
      timeline.push('settle sent');
      // The settle does not wait for the job's write: it lets it finish only once under way itself.
      setTimeout(releaseJobWrite, 20);
      await new Promise((resolve) => setTimeout(resolve, 50));
      timeline.push('settle done');
      return { Attributes: { tat: Date.now() } };
    });

    await step();

    expect(timeline).toEqual([
      'settle sent',
      'job write sent',
      'job write done (2 items)',
      'settle done',
      'task succeeded',
    ]);
  });
});
