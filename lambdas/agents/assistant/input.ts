import * as z from '../../domain/zod-mini.js';
import { SERVER_TOOL_NAMES, TOOL_NAME } from './server-tool.js';

/** Generous bounds: the request body is capped at 256 KiB anyway; these stop degenerate input. */
const MAX_TEXT = 200_000;

/** Names that appear twice in a list, for the validation message. */
const repeated = (names: string[]) => [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];

function buildAssistantInputSchema() {
  const text = (...checks: z.core.$ZodCheck<string>[]) => z.string().check(...checks, z.maxLength(MAX_TEXT));
  const int = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));
  const toolName = z
    .string()
    .check(z.regex(TOOL_NAME, 'must be 1 to 64 letters, digits, underscores or hyphens'));
  const messageSchema = z.strictObject({
    role: z.enum(['user', 'assistant', 'system']),
    content: text(),
  });
  const clientToolSchema = z.strictObject({
    name: toolName,
    description: z.optional(z.string().check(z.maxLength(4_000))),
    /** The arguments' JSON Schema, passed to the model as is. */
    parameters: z.looseObject({ type: z.literal('object') }),
  });
  const schema = z
    .strictObject({
      prompt: z.optional(text(z.minLength(1))),
      messages: z.optional(z.array(messageSchema).check(z.minLength(1), z.maxLength(1_000))),
      instructions: z.optional(text()),
      model: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
      tools: z.optional(z.array(clientToolSchema).check(z.maxLength(64))),
      serverTools: z.optional(z.array(z.enum(SERVER_TOOL_NAMES))),
      maxSteps: z._default(int(1, 100), 20),
      maxOutputTokens: z.optional(int(1, 1_000_000)),
      temperature: z.optional(z.number().check(z.minimum(0), z.maximum(2))),
    })
    .check(
      z.superRefine((input, ctx) => {
        if ((input.prompt === undefined) === (input.messages === undefined)) {
          ctx.addIssue({
            code: 'custom',
            path: [],
            message: 'exactly one of prompt and messages is required',
          });
        }
        const names = [...(input.serverTools ?? []), ...(input.tools ?? []).map((t) => t.name)];
        for (const name of repeated(names)) {
          ctx.addIssue({
            code: 'custom',
            path: ['tools'],
            message: `tool name ${name} is used more than once`,
          });
        }
      }),
    );
  // Refinements have no JSON Schema form; the exclusive pair is stated for schema readers.
  return z.withMeta(schema, { oneOf: [{ required: ['prompt'] }, { required: ['messages'] }] });
}

/**
 * The `assistant` agent's input (the contract's "Agents and the built-in assistant agent"): exactly
 * one of `prompt` and `messages`, and tool names that are unique across client and server tools,
 * since the model calls a tool by its name alone. Built on first use, so a function that only
 * ever accepts other agents' jobs never builds it.
 */
export const assistantInputSchema = z.lazy(buildAssistantInputSchema);

export type AssistantInput = z.output<typeof assistantInputSchema>;
