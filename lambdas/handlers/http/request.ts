import type { APIGatewayProxyEvent } from 'aws-lambda';
import type * as z from '../../domain/zod-mini.js';
import type { FieldError } from '../../domain/errors.js';
import { DomainError, ValidationError } from '../../domain/errors.js';
import { JOB_ID_PATTERN } from '../../domain/idempotency.js';

export const MAX_BODY_BYTES = 256 * 1024;

/** The tenant the authorizer resolved; handlers never take it from anything the client sends. */
export function tenantOf(event: APIGatewayProxyEvent): string {
  const tenant = event.requestContext.authorizer?.tenant;
  if (typeof tenant !== 'string' || tenant === '')
    throw new DomainError('unauthorized', 'no tenant on the request');
  return tenant;
}

export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  return event.headers?.[name] ?? undefined;
}

export function zodErrors(error: z.core.$ZodError, prefix: string): FieldError[] {
  return error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].join('.'), message: i.message }));
}

export function parseWith<S extends z.ParseableSchema>(
  schema: S,
  value: unknown,
  prefix: string,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`the ${what} is not valid`, zodErrors(parsed.error, prefix));
  return parsed.data as z.output<S>;
}

/** Content type, size and syntax are checked before the schema, each with its own answer. */
export function jsonBody(event: APIGatewayProxyEvent): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
    throw new DomainError('payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`);
  }
  const type = header(event, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && !type?.endsWith('+json')) {
    throw new DomainError('unsupported_media_type', 'send the body as application/json');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError('the body is not valid JSON', [
      { path: 'body', message: (e as Error).message },
    ]);
  }
}

export function jobIdParam(event: APIGatewayProxyEvent): string {
  const id = event.pathParameters?.id ?? '';
  if (!JOB_ID_PATTERN.test(id)) {
    throw new ValidationError('the job id is not valid', [
      { path: 'path.id', message: 'must look like job_<26 characters>' },
    ]);
  }
  return id;
}
