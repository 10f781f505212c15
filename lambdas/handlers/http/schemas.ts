import { z } from 'zod';
import { JOB_ERROR_CODES } from '../../domain/errors.js';
import { JOB_STATUSES } from '../../domain/job.js';

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
      .record(z.string().max(128), jsonValue)
      .optional()
      .meta({ description: 'Free-form, returned as given.' }),
    webhook: z
      .strictObject({ url: z.url({ protocol: /^https?$/ }).max(2048) })
      .optional()
      .meta({ description: 'Where to POST terminal events (webhooks capability).' }),
    timeoutSeconds: z
      .int()
      .min(1)
      .optional()
      .meta({ description: "Bound on the whole run; defaults to and may not exceed the agent's limits." }),
  })
  .meta({ id: 'CreateJobRequest' });
export type CreateJobRequest = z.output<typeof createJobRequestSchema>;

export const listJobsQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

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
    inputRequest: z.object({ prompt: z.string() }).nullable(),
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
