import { z } from 'zod';
import { deploymentFromEnv } from '../../config/env.js';
import { JOB_ERROR_CODES } from '../../domain/errors.js';
import { JOB_STATUSES } from '../../domain/job.js';
import { DEFAULT_EVENTS_PAGE, JOB_EVENT_TYPES, MAX_EVENTS_PAGE } from '../../domain/job-events.js';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook.js';
import { webhookUrlProblem } from '../../domain/webhook-url.js';

/**
 * Request and response schemas. Requests are validated with them and the OpenAPI document is
 * generated from them (openapi.ts), so the published contract is the enforced one.
 */
/**
 * JSON allows any double; DynamoDB stores magnitudes from 1e-130, and the SDK refuses to marshal
 * a number beyond 2^53 - 1 (its decimal digits past that are already lost).
 */
const storableNumber = (n: number) =>
  n === 0 || (Math.abs(n) >= 1e-130 && Math.abs(n) <= Number.MAX_SAFE_INTEGER);

/** Levels a value may nest: the job item holds it one level down, and DynamoDB allows 32. */
const MAX_JSON_DEPTH = 30;

/**
 * Why DynamoDB would refuse to store a JSON value (objects become maps, which have no empty keys
 * and nest at most 32 levels; numbers have a narrower range), so such input is a 400, not a failed write. Iterative: the
 * body may nest far deeper than the call stack.
 */
function unstorable(value: unknown): { path: PropertyKey[]; message: string } | undefined {
  const pending: Array<{ value: unknown; path: PropertyKey[] }> = [{ value, path: [] }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (typeof next.value === 'number' && !storableNumber(next.value))
      return { path: next.path, message: 'numbers must be 0 or of magnitude 1e-130 to 2^53 - 1' };
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.path.length >= MAX_JSON_DEPTH)
      return { path: next.path, message: `must not nest more than ${MAX_JSON_DEPTH} levels` };
    const isArray = Array.isArray(next.value);
    for (const [key, child] of Object.entries(next.value)) {
      if (!isArray && key === '') return { path: next.path, message: 'object keys must not be empty' };
      pending.push({ value: child, path: [...next.path, isArray ? Number(key) : key] });
    }
  }
  return undefined;
}

/**
 * Any JSON value. The body is already parsed JSON, so only presence needs checking; the
 * recursive jsonValue would send the OpenAPI generator into endless recursion.
 */
const jsonValue = z
  .unknown()
  .refine((v) => v !== undefined, 'Required')
  .superRefine((value, ctx) => {
    const problem = unstorable(value);
    if (problem) ctx.addIssue({ code: 'custom', ...problem });
  })
  .meta({ id: 'JsonValue', description: 'Any JSON value' });

export const jobIdSchema = z
  .string()
  .regex(/^job_[0-9a-hjkmnp-tv-z]{26}$/)
  .meta({ example: 'job_01jd3k5q7x9v2m4n6p8r0s2t4w' });

export const createJobRequestSchema = z
  .strictObject({
    agent: z.string().min(1).max(64).meta({ description: 'Name of a registered agent, e.g. `echo`.' }),
    input: jsonValue.meta({ description: "Agent input; validated against the agent's input schema." }),
    metadata: z
      .record(z.string().min(1).max(128), jsonValue)
      .optional()
      .meta({ description: 'Free-form, returned as given.' }),
    webhook: z
      .strictObject({
        url: z
          .url({ protocol: /^https?$/ })
          .max(2048)
          .superRefine((url, ctx) => {
            const problem = webhookUrlProblem(url, deploymentFromEnv());
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }),
      })
      .optional()
      .meta({
        description:
          'Where to POST signed events (Standard Webhooks) when the job succeeds, fails, is cancelled or needs input. https only in a deployed stack.',
      }),
    timeoutSeconds: z
      .int()
      .min(1)
      .optional()
      .meta({ description: "Bound on the whole run; defaults to and may not exceed the agent's limits." }),
    inputTimeoutSeconds: z.int().min(1).optional().meta({
      description:
        "How long the job waits for each answer when an agent asks for input; defaults to and may not exceed the agent's limits.",
    }),
  })
  .meta({ id: 'CreateJobRequest' });

export const submitInputRequestSchema = z
  .strictObject({ input: jsonValue })
  .meta({ id: 'SubmitInputRequest' });
export type CreateJobRequest = z.output<typeof createJobRequestSchema>;

export const listJobsQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

/** A seq as a client sends it back: `after=`, `Last-Event-ID`. */
export const eventSeqSchema = z.coerce
  .number()
  .int()
  .min(0)
  .max(9_999_999_999)
  .meta({ description: 'Seq of the last event already seen; 0 (the default) reads from the first.' });

export const listEventsQuerySchema = z.strictObject({
  after: eventSeqSchema.default(0),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).default(DEFAULT_EVENTS_PAGE),
});

export const streamQuerySchema = z.strictObject({ after: eventSeqSchema.optional() });

const timestamp = z.iso.datetime();

export const jobSchema = z
  .object({
    id: jobIdSchema,
    agent: z.string(),
    status: z.enum(JOB_STATUSES),
    attempt: z.int().min(1),
    input: jsonValue,
    metadata: z.record(z.string(), jsonValue),
    progress: z.object({
      fraction: z.number().min(0).max(1),
      step: z.int().min(0),
      message: z.string().nullable(),
    }),
    result: jsonValue.nullable(),
    error: z
      .object({ code: z.enum(JOB_ERROR_CODES), message: z.string(), retryable: z.boolean() })
      .nullable(),
    inputRequest: z
      .object({ prompt: z.string(), schema: z.record(z.string(), jsonValue).optional() })
      .nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
    startedAt: timestamp.nullable(),
    completedAt: timestamp.nullable(),
    expiresAt: timestamp,
    links: z.object({ self: z.string(), cancel: z.string(), events: z.string(), stream: z.string() }),
  })
  .meta({ id: 'Job' });

export const jobListSchema = z
  .object({ items: z.array(jobSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'JobList' });

export const jobEventSchema = z
  .object({
    seq: z.int().min(1),
    type: z.enum(JOB_EVENT_TYPES),
    at: timestamp,
    data: jsonValue.meta({
      description:
        'What changed: progress {fraction, step, message, data}, running {status, attempt, startedAt}; the whole job for job.created and terminal events.',
    }),
  })
  .meta({ id: 'JobEvent' });

export const jobEventListSchema = z
  .object({
    items: z.array(jobEventSchema),
    nextCursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `after` for the next page; null at the end of the log.' }),
  })
  .meta({ id: 'JobEventList' });

export const deliveryIdSchema = z
  .string()
  .regex(/^dlv_[1-9]\d{0,9}$/)
  .meta({ example: 'dlv_7' });

export const deliverySchema = z
  .object({
    id: deliveryIdSchema,
    webhookId: z
      .string()
      .meta({ description: 'The `webhook-id` header: the same on every attempt and replay.' }),
    type: z.enum(WEBHOOK_EVENT_TYPES),
    url: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.array(
      z.object({
        at: timestamp,
        httpStatus: z.int().optional().meta({ description: "The receiver's answer, when there was one." }),
        error: z.string().optional().meta({ description: 'Why there was no answer (timeout, refused...).' }),
        durationMs: z.int().min(0),
      }),
    ),
    nextAttemptAt: timestamp.nullable().meta({ description: 'When the next attempt is due, while pending.' }),
  })
  .meta({ id: 'Delivery' });

export const deliveryListSchema = z.object({ items: z.array(deliverySchema) }).meta({ id: 'DeliveryList' });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

export const healthSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z
      .array(z.object({ name: z.string(), status: z.enum(['ok', 'unavailable']), detail: z.string() }))
      .optional(),
  })
  .meta({ id: 'Health' });
