import { deploymentFromEnv } from '../../config/env.js';
import { jsonBytes, MAX_ANSWER_BYTES, MAX_METADATA_BYTES, unstorable } from '../../domain/stored-json.js';
import { webhookUrlProblem } from '../../domain/webhook-url.js';
import * as z from '../../domain/zod-mini.js';

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
export const jsonValue = z.withMeta(
  z.unknown().check(
    z.refine((v) => v !== undefined, 'Required'),
    z.superRefine((value, ctx) => {
      const problem = unstorable(value);
      if (problem) ctx.addIssue({ code: 'custom', ...problem });
    }),
  ),
  { id: 'JsonValue', description: 'Any JSON value' },
);

const webhookUrl = z.url({ protocol: /^https?$/ }).check(
  z.maxLength(2048),
  z.superRefine((url, ctx) => {
    const problem = webhookUrlProblem(url, deploymentFromEnv());
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
);

export const createJobRequestSchema = z.withMeta(
  z.strictObject({
    agent: z.withMeta(z.string().check(z.minLength(1), z.maxLength(64)), {
      description: 'Name of a registered agent, e.g. `echo`.',
    }),
    input: z.withMeta(jsonValue, { description: "Agent input; validated against the agent's input schema." }),
    metadata: z.withMeta(
      z.optional(
        z.record(z.string().check(z.minLength(1), z.maxLength(128)), jsonValue).check(
          z.refine((m) => jsonBytes(m) <= MAX_METADATA_BYTES, {
            message: `must be at most ${MAX_METADATA_BYTES} bytes serialized`,
          }),
        ),
      ),
      { description: `Free-form, returned as given; at most ${MAX_METADATA_BYTES} bytes serialized.` },
    ),
    webhook: z.withMeta(z.optional(z.strictObject({ url: webhookUrl })), {
      description:
        'Where to POST signed events (Standard Webhooks) when the job succeeds, fails, is cancelled or needs input. https only in a deployed stack.',
    }),
    timeoutSeconds: z.withMeta(z.optional(z.int().check(z.minimum(1))), {
      description: "Bound on the whole run; defaults to and may not exceed the agent's limits.",
    }),
    inputTimeoutSeconds: z.withMeta(z.optional(z.int().check(z.minimum(1))), {
      description:
        "How long the job waits for each answer when an agent asks for input; defaults to and may not exceed the agent's limits.",
    }),
  }),
  { id: 'CreateJobRequest' },
);

export const submitInputRequestSchema = z.withMeta(
  z.strictObject({
    input: z.withMeta(
      jsonValue.check(
        z.refine((v) => jsonBytes(v) <= MAX_ANSWER_BYTES, {
          message: `must be at most ${MAX_ANSWER_BYTES} bytes serialized`,
        }),
      ),
      { description: `The answer; at most ${MAX_ANSWER_BYTES} bytes serialized.` },
    ),
  }),
  { id: 'SubmitInputRequest' },
);
export type CreateJobRequest = z.output<typeof createJobRequestSchema>;
