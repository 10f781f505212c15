import * as z from 'zod';
import { deploymentFromEnv } from '../../config/env.js';
import { jsonBytes, MAX_ANSWER_BYTES, MAX_METADATA_BYTES, unstorable } from '../../domain/stored-json.js';
import { webhookUrlProblem } from '../../domain/webhook-url.js';

/**
 * Request schemas. Requests are validated with them and the OpenAPI document is generated from
 * them (openapi-document.ts), so the published contract is the enforced one. Response and path
 * schemas live in document-schemas.ts, which only the document imports: a route's bundle builds no
 * schema it does not validate with.
 */
/**
 * Any JSON value. The body is already parsed JSON, so only presence needs checking; the
 * recursive jsonValue would send the OpenAPI generator into endless recursion.
 */
export const jsonValue = z
  .unknown()
  .refine((v) => v !== undefined, 'Required')
  .superRefine((value, ctx) => {
    const problem = unstorable(value);
    if (problem) ctx.addIssue({ code: 'custom', ...problem });
  })
  .meta({ id: 'JsonValue', description: 'Any JSON value' });

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
