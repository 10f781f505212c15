import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JsonValue, RequestedToolCall } from '../../../lambdas/domain/job.js';
import '../support/handler-env.js';
import {
  apiEvent,
  bodyOf,
  expectFieldErrors,
  expectProblem,
  JOB_ID,
  lambdaContext,
  storedJob,
} from '../support/fixtures.js';

const { handler } = await import('../../../lambdas/handlers/submit-input.js');
const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2025-06-01T10:00:00.000Z');
const SCHEMA: { [key: string]: JsonValue } = {
  type: 'object',
  properties: { approved: { type: 'boolean' } },
  required: ['approved'],
};

const submit = (body: unknown, id = JOB_ID) =>
  handler(
    apiEvent({
      method: 'POST',
      path: `/v1/jobs/${id}/input`,
      pathParameters: { id },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
    lambdaContext,
  );

const item = (overrides: Parameters<typeof storedJob>[0]) =>
  storedJob(overrides, { completedSteps: 1, inputToken: 'secret-token' });

const waiting = (schema?: { [key: string]: JsonValue }) =>
  item({ status: 'input_required', inputRequest: { prompt: 'Approve?', ...(schema ? { schema } : {}) } });

beforeEach(() => {
  ddb.reset();
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('POST /v1/jobs/{id}/input', () => {
  it('records the answer in one conditional write and answers 200 with the running job', async () => {
    ddb.on(GetCommand).resolves({ Item: waiting() });
    const { inputToken: _, ...resumed } = item({ status: 'running', inputRequest: null });
    ddb.on(UpdateCommand).resolves({ Attributes: { ...resumed, answer: 'blue' } });

    const res = await submit({ input: 'blue' });

    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toMatchObject({ id: JOB_ID, status: 'running', inputRequest: null });
    expect(JSON.stringify(bodyOf(res))).not.toMatch(/token|answer/);
    const calls = ddb.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      ConditionExpression: 'attribute_exists(PK) AND expiresAt > :at AND #status = :from0',
      ExpressionAttributeValues: {
        ':running': 'running',
        ':from0': 'input_required',
        ':answer': 'blue',
        ':eventTypes': ['job.running'],
      },
    });
    expect(calls[0]?.args[0].input.UpdateExpression).toMatch(
      /answeredAt = :at.*REMOVE inputRequest, #answerOther$/,
    );
    expect(calls[0]?.args[0].input.ExpressionAttributeNames).toMatchObject({
      '#answer': 'answer',
      '#answerOther': 'answerRef',
    });
  });

  it('checks the answer against the request schema: 400 invalid_input and no write', async () => {
    ddb.on(GetCommand).resolves({ Item: waiting(SCHEMA) });
    const res = await submit({ input: { approved: 'yes' } });
    expectProblem(res, 400, 'invalid_input');
    expect(expectFieldErrors(bodyOf(res)).map((e) => e.path)).toEqual(['input.approved']);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('checks toolOutputs against the pending tool calls: a missing or unknown call id is 400 invalid_input, no write', async () => {
    const toolCalls: RequestedToolCall[] = [
      { id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } },
      { id: 'call_2', name: 'get_time', arguments: {} },
    ];
    ddb.on(GetCommand).resolves({
      Item: item({
        status: 'input_required',
        inputRequest: { type: 'tool_calls', prompt: 'Run them', toolCalls },
      }),
    });
    const missing = await submit({ input: { toolOutputs: [{ toolCallId: 'call_1', output: 'sunny' }] } });
    expect(expectFieldErrors(expectProblem(missing, 400, 'invalid_input')).map((e) => e.message)).toEqual([
      'missing the output of tool call call_2 (get_time)',
    ]);
    const unknown = await submit({
      input: {
        toolOutputs: [
          { toolCallId: 'call_1', output: 'sunny' },
          { toolCallId: 'call_2', output: '10:00' },
          { toolCallId: 'call_9', output: 'x' },
        ],
      },
    });
    expect(expectFieldErrors(expectProblem(unknown, 400, 'invalid_input')).map((e) => e.path)).toEqual([
      'input.toolOutputs.2.toolCallId',
    ]);
    expectProblem(await submit({ input: 'not outputs' }), 400, 'invalid_input');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);

    ddb.on(UpdateCommand).resolves({ Attributes: item({ status: 'running' }) });
    const answered = await submit({
      input: {
        toolOutputs: [
          { toolCallId: 'call_2', output: '10:00' },
          { toolCallId: 'call_1', output: { sky: 'sunny' } },
        ],
      },
    });
    expect(answered.statusCode).toBe(200);
  });

  it('accepts an answer that matches the schema', async () => {
    ddb.on(GetCommand).resolves({ Item: waiting(SCHEMA) });
    ddb.on(UpdateCommand).resolves({ Attributes: item({ status: 'running' }) });
    expect((await submit({ input: { approved: true } })).statusCode).toBe(200);
  });

  it('refuses an answer over 64 KiB serialized with 400 validation_failed, reading and writing nothing', async () => {
    const problem = expectProblem(await submit({ input: 'a'.repeat(64 * 1024) }), 400, 'validation_failed');
    expect(expectFieldErrors(problem).map((e) => e.path)).toEqual(['body.input']);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('refuses an answer holding an object key of 64 KB with 400, writing nothing', async () => {
    expectProblem(await submit({ input: { ['k'.repeat(65_536)]: 1 } }), 400, 'validation_failed');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('refuses a body without input with 400 validation_failed', async () => {
    expectProblem(await submit({}), 400, 'validation_failed');
    expectProblem(await submit({ input: 1, extra: true }), 400, 'validation_failed');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it.each([
    ['running', 'invalid_transition'],
    ['pending', 'invalid_transition'],
    ['succeeded', 'job_terminal'],
    ['cancelled', 'job_terminal'],
  ] as const)('answers 409 while the job is %s (%s), without writing', async (status, code) => {
    ddb.on(GetCommand).resolves({ Item: item({ status }) });
    expectProblem(await submit({ input: 1 }), 409, code);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('answers 409 when the job stopped waiting between the read and the write', async () => {
    ddb.on(GetCommand).resolves({ Item: waiting() });
    ddb.on(UpdateCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: marshall(item({ status: 'cancelled' }), { removeUndefinedValues: true }),
      }),
    );
    expectProblem(await submit({ input: 1 }), 409, 'job_terminal');
  });

  it('answers 404 for an unknown job', async () => {
    ddb.on(GetCommand).resolves({});
    expectProblem(await submit({ input: 1 }), 404, 'not_found');
  });
});
