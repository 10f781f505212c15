import { z } from 'zod';
import { deploymentFromEnv } from '../../config/env.js';
import { JOB_ERROR_CODES } from '../../domain/errors.js';
import { JOB_STATUSES } from '../../domain/job.js';
import { jsonBytes, MAX_ANSWER_BYTES, MAX_METADATA_BYTES, unstorable } from '../../domain/stored-json.js';
import { DEFAULT_EVENTS_PAGE, JOB_EVENT_TYPES, MAX_EVENTS_PAGE } from '../../domain/job-events.js';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook.js';
import { webhookUrlProblem } from '../../domain/webhook-url.js';

/**
 * Request and response schemas. Requests are validated with them and the OpenAPI document is
 * generated from them (openapi.ts), so the published contract is the enforced one.
 */
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
      .refine((m) => jsonBytes(m) <= MAX_METADATA_BYTES, {
        message: `must be at most ${MAX_METADATA_BYTES} bytes serialized`,
      })
      .optional()
      .meta({ description: `Free-form, returned as given; at most ${MAX_METADATA_BYTES} bytes serialized.` }),
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
  .strictObject({
    input: jsonValue
      .refine((v) => jsonBytes(v) <= MAX_ANSWER_BYTES, {
        message: `must be at most ${MAX_ANSWER_BYTES} bytes serialized`,
      })
      .meta({ description: `The answer; at most ${MAX_ANSWER_BYTES} bytes serialized.` }),
  })
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

export const jobSummarySchema = jobSchema.omit({ input: true, result: true }).meta({
  id: 'JobSummary',
  description: 'A job as listed: without `input` and `result` (fetch the job for them).',
});

export const jobListSchema = z
  .object({
    items: z.array(jobSummarySchema),
    nextCursor: z.string().nullable().meta({
      description:
        'Pass as `cursor` for the next page; null at the end. A page may end early to stay under 1 MiB.',
    }),
  })
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
    attempts: z
      .array(
        z.object({
          at: timestamp,
          httpStatus: z.int().optional().meta({ description: "The receiver's answer, when there was one." }),
          error: z.string().optional().meta({
            description:
              'Why there was no usable answer; a deployed stack gives one message for every attempt that got none.',
          }),
          durationMs: z.int().min(0),
        }),
      )
      .meta({ description: 'The latest attempts (at most 20), oldest first.' }),
    attemptCount: z
      .int()
      .min(0)
      .meta({ description: 'Every attempt made, including those no longer listed.' }),
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
