import * as z from 'zod';
import type { FieldError } from './errors.js';
import { DomainError, ValidationError } from './errors.js';
import type { InputRequest, JsonValue } from './job.js';

/** An answer's size cap: it is stored on the job item, which must stay well under 400 KB. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** The validator for an input request's JSON Schema; throws when the schema itself is unusable. */
export function answerSchema(schema: NonNullable<InputRequest['schema']>): z.ZodType {
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

/** Whether an agent's schema can be enforced; checked before the job starts waiting on it. */
export function isUsableSchema(schema: InputRequest['schema']): boolean {
  if (schema === undefined) return true;
  try {
    answerSchema(schema);
    return true;
  } catch {
    return false;
  }
}

/** Refuses an answer that is too large or does not match the request's schema (400 invalid_input). */
export function checkAnswer(request: InputRequest, answer: JsonValue): void {
  if (Buffer.byteLength(JSON.stringify(answer)) > MAX_ANSWER_BYTES) {
    throw new ValidationError('the answer is too large', [
      { path: 'input', message: `must be at most ${MAX_ANSWER_BYTES} bytes as JSON` },
    ]);
  }
  if (request.type === 'tool_calls') {
    toolOutputsFor(request.toolCalls ?? [], answer);
    return;
  }
  if (request.schema === undefined) return;
  let parsed: ReturnType<z.ZodType['safeParse']>;
  try {
    parsed = answerSchema(request.schema).safeParse(answer);
  } catch (cause) {
    throw new DomainError('internal_error', 'the input request carries a schema that cannot be checked', {
      cause,
    });
  }
  if (!parsed.success) {
    const errors: FieldError[] = parsed.error.issues.map((i) => ({
      path: ['input', ...i.path.map(String)].join('.'),
      message: i.message,
    }));
    throw new ValidationError('the answer does not match the requested schema', errors, 'invalid_input');
  }
}

const toolOutputsSchema = z.strictObject({
  toolOutputs: z.array(z.strictObject({ toolCallId: z.string().min(1), output: z.json() })).max(128),
});

/**
 * A client's answer to client tool calls, `{"toolOutputs": [{"toolCallId", "output"}]}`, as each
 * awaited call's output by id. It must answer every awaited call once and nothing else; otherwise
 * it is refused (400 `invalid_input`) and nothing changes, so the job keeps waiting.
 */
export function toolOutputsFor(
  awaited: readonly { id: string; name: string }[],
  answer: unknown,
): Map<string, JsonValue> {
  const parsed = toolOutputsSchema.safeParse(answer);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({
      path: ['input', ...i.path.map(String)].join('.'),
      message: i.message,
    }));
    throw new ValidationError('the answer is not a toolOutputs list', errors, 'invalid_input');
  }
  const names = new Map(awaited.map((c) => [c.id, c.name]));
  const errors: FieldError[] = [];
  const outputs = new Map<string, JsonValue>();
  parsed.data.toolOutputs.forEach(({ toolCallId, output }, i) => {
    const path = `input.toolOutputs.${i}.toolCallId`;
    if (!names.has(toolCallId))
      errors.push({ path, message: `no tool call ${toolCallId} is waiting for an output` });
    else if (outputs.has(toolCallId))
      errors.push({ path, message: `tool call ${toolCallId} is answered more than once` });
    else outputs.set(toolCallId, output as JsonValue);
  });
  for (const [id, name] of names) {
    if (!outputs.has(id)) {
      errors.push({ path: 'input.toolOutputs', message: `missing the output of tool call ${id} (${name})` });
    }
  }
  if (errors.length > 0) {
    throw new ValidationError('the answer does not match the pending tool calls', errors, 'invalid_input');
  }
  return outputs;
}
