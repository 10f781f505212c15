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
