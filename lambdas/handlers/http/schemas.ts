import * as z from 'zod';
import { deploymentFromEnv } from '../../config/env.js';
import { webhookUrlProblem } from '../../domain/webhook-url.js';

/**
 * Request schemas. Requests are validated with them and the OpenAPI document is generated from
 * them (openapi-document.ts), so the published contract is the enforced one. Response and path
 * schemas live in document-schemas.ts, which only the document imports: a route's bundle builds no
 * schema it does not validate with.
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
