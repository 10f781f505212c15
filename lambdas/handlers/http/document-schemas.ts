import * as z from 'zod';
import { JOB_ERROR_CODES } from '../../domain/errors.js';
import { JOB_STATUSES } from '../../domain/job.js';
import { JOB_EVENT_TYPES } from '../../domain/job-events.js';
import { LIMIT_NAMES } from '../../domain/tenant-limits.js';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook.js';
import { classic } from './classic-schema.js';
import { jsonValue as miniJsonValue } from './schemas.js';

/**
 * Response and path-parameter schemas: only the OpenAPI document uses them (handlers build their
 * answers in code, and the route table's patterns check path ids), so no route bundle carries them.
 */
export const jobIdSchema = z
  .string()
  .regex(/^job_[0-9a-hjkmnp-tv-z]{26}$/)
  .meta({ example: 'job_01jd3k5q7x9v2m4n6p8r0s2t4w' });

export const deliveryIdSchema = z
  .string()
  .regex(/^dlv_[1-9]\d{0,9}$/)
  .meta({ example: 'dlv_7' });

const timestamp = z.iso.datetime();
const jsonValue = classic(miniJsonValue);

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
    agentVersion: z.string().nullable().meta({ description: 'The version of the agent that runs the job.' }),
    inputRequest: z
      .object({
        type: z.enum(['question', 'tool_calls']),
        prompt: z.string(),
        schema: z.record(z.string(), jsonValue).optional(),
        toolCalls: z
          .array(z.object({ id: z.string(), name: z.string(), arguments: z.record(z.string(), jsonValue) }))
          .optional()
          .meta({
            description:
              'With `type: "tool_calls"`: answer with `{"toolOutputs": [{"toolCallId", "output"}]}`.',
          }),
      })
      .nullable(),
    usage: z
      .object({
        inputTokens: z.int().min(0),
        outputTokens: z.int().min(0),
        totalTokens: z.int().min(0),
        modelCalls: z.int().min(0),
        costUsd: z.number().nullable(),
      })
      .nullable()
      .meta({ description: 'Token usage of the answered model calls; null for agents that call no model.' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    startedAt: timestamp.nullable(),
    completedAt: timestamp.nullable(),
    expiresAt: timestamp,
    links: z.object({ self: z.string(), cancel: z.string(), events: z.string(), stream: z.string() }),
    queue: z
      .object({ position: z.int().min(1) })
      .optional()
      .meta({
        description:
          "Only on GET of a pending job waiting for one of its tenant's running slots (`maxRunningJobs`): its place in the tenant's queue, 1 = next to start. Absent once admitted.",
      }),
    omitted: z
      .array(z.enum(['input', 'metadata', 'result']))
      .optional()
      .meta({
        description:
          'Only in events and webhooks: large values this copy leaves out (shown as null, metadata as {}); GET the job (`links.self`) for them whole.',
      }),
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
        'What changed: progress {fraction, step, message, data}, running {status, attempt, startedAt}; the whole job for job.created and terminal events. ' +
        "job.output.delta {step, text}: model call `step` streams text; joined in log order, the texts of one step are that call's text. " +
        'job.tool_call {step, id, name, arguments}: when the data would pass 64 KiB, arguments is null, with argumentsTruncated {bytes}. ' +
        "job.output.reset {step}: an earlier attempt of call `step` broke off; drop the deltas and tool calls of that step received so far (the retry's follow). " +
        'job.redriven starts the steps over at 1.',
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

export const agentSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    description: z.string(),
    inputSchema: z
      .record(z.string(), z.unknown())
      .meta({ description: 'JSON Schema (draft 2020-12) of the input.' }),
    available: z.boolean(),
    unavailableReason: z.string().optional(),
  })
  .meta({ id: 'Agent' });

export const agentListSchema = z.object({ items: z.array(agentSchema) }).meta({ id: 'AgentList' });

const count = z.int().min(0);

export const usageDaySchema = z
  .object({
    date: z.string().meta({ format: 'date', example: '2026-12-05' }),
    jobs: count.meta({ description: 'Jobs that recorded their first step that day.' }),
    modelCalls: count.meta({ description: 'Answered model calls.' }),
    inputTokens: count,
    outputTokens: count,
    costUsd: z.number().nullable().meta({
      description:
        "List-price estimate of the day's model calls; null when a call that day was of a model without a price.",
    }),
  })
  .meta({ id: 'UsageDay' });

export const tenantLimitsSchema = z
  .object(Object.fromEntries(LIMIT_NAMES.map((name) => [name, z.int().min(1)])))
  .meta({
    id: 'TenantLimits',
    description: "The tenant's effective limits: its own over the deployment's defaults.",
  });

export const usageReportSchema = z
  .object({
    items: z.array(usageDaySchema).meta({ description: 'Days with activity, oldest first.' }),
    limits: tenantLimitsSchema,
  })
  .meta({ id: 'UsageReport' });
