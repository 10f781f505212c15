import * as z from 'zod';
import { SERVER_TOOL_NAMES, TOOL_NAME } from './server-tool.js';

/** Generous bounds: the request body is capped at 256 KiB anyway; these stop degenerate input. */
const MAX_TEXT = 200_000;

/** Names that appear twice in a list, for the validation message. */
const repeated = (names: string[]) => [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];

function buildAssistantInputSchema() {
  const toolName = z.string().regex(TOOL_NAME, 'must be 1 to 64 letters, digits, underscores or hyphens');
  const messageSchema = z.strictObject({
    role: z.enum(['user', 'assistant', 'system']),
    content: z.string().max(MAX_TEXT),
  });
  const clientToolSchema = z.strictObject({
    name: toolName,
    description: z.string().max(4_000).optional(),
    /** The arguments' JSON Schema, passed to the model as is. */
    parameters: z.looseObject({ type: z.literal('object') }),
  });
  return (
    z
      .strictObject({
        prompt: z.string().min(1).max(MAX_TEXT).optional(),
        messages: z.array(messageSchema).min(1).max(1_000).optional(),
        instructions: z.string().max(MAX_TEXT).optional(),
        model: z.string().min(1).max(256).optional(),
        tools: z.array(clientToolSchema).max(64).optional(),
        serverTools: z.array(z.enum(SERVER_TOOL_NAMES)).optional(),
        maxSteps: z.int().min(1).max(100).default(20),
        maxOutputTokens: z.int().min(1).max(1_000_000).optional(),
        temperature: z.number().min(0).max(2).optional(),
      })
      .superRefine((input, ctx) => {
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
      })
      // Refinements have no JSON Schema form; the exclusive pair is stated for schema readers.
      .meta({ oneOf: [{ required: ['prompt'] }, { required: ['messages'] }] })
  );
}

/**
 * The `assistant` agent's input (the contract's "Agents and the built-in assistant agent"): exactly
 * one of `prompt` and `messages`, and tool names that are unique across client and server tools,
 * since the model calls a tool by its name alone. Built on first use, so a function that only
 * ever accepts other agents' jobs never builds it.
 */
export const assistantInputSchema = z.lazy(buildAssistantInputSchema);

export type AssistantInput = z.output<typeof assistantInputSchema>;
