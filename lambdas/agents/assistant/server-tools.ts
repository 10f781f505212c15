import * as z from 'zod';
import type { JsonValue } from '../../domain/job.js';
import type { JsonObject, ToolDefinition } from '../../domain/model.js';
import type { ToolResult } from './loop.js';
import type { ServerTool, ServerToolContext } from './server-tool.js';
import { SERVER_TOOL_NAMES, ToolError } from './server-tool.js';
import { fetchUrlTool } from './tools/fetch-url.js';

/** The code of the tools SERVER_TOOL_NAMES offers; add a tool to both to offer it. */
const SERVER_TOOLS: ReadonlyMap<string, ServerTool> = new Map(
  [fetchUrlTool as ServerTool].map((tool) => [tool.name, tool]),
);
const unmatched =
  SERVER_TOOL_NAMES.length !== SERVER_TOOLS.size || SERVER_TOOL_NAMES.some((n) => !SERVER_TOOLS.has(n));
if (unmatched) throw new Error(`server tools [${[...SERVER_TOOLS.keys()]}] do not match SERVER_TOOL_NAMES`);

const definitions = new Map<string, ToolDefinition>();

/**
 * The definition the model is given for a server tool. Generated once per tool: every model call
 * and every estimate of one (its token reservation) sends the same schema.
 */
export function serverToolDefinition(name: string): ToolDefinition {
  const known = definitions.get(name);
  if (known) return known;
  const tool = SERVER_TOOLS.get(name);
  if (!tool) throw new Error(`no server tool named ${name}`);
  const { $schema: _, ...parameters } = z.toJSONSchema(tool.inputSchema, { io: 'input' });
  const definition = { name: tool.name, description: tool.description, parameters: parameters as JsonObject };
  definitions.set(name, definition);
  return definition;
}

/** The longest a call of the named server tool can take (undefined for a name that is not one). */
export const serverToolMaxMs = (name: string): number | undefined => SERVER_TOOLS.get(name)?.maxDurationMs;

const toolError = (message: string): ToolResult => ({ output: { error: message }, isError: true });

/**
 * Runs one server tool call. Bad arguments and ToolErrors become a tool error the model reads;
 * anything else is a fault of the step and is thrown, so the workflow retries it.
 */
export async function runServerTool(
  name: string,
  args: JsonValue,
  ctx: ServerToolContext,
): Promise<ToolResult> {
  const tool = SERVER_TOOLS.get(name);
  if (!tool) return toolError(`unknown tool "${name}"`);
  const parsed = tool.inputSchema.safeParse(args);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`);
    return toolError(`invalid arguments for ${name}: ${problems.join('; ')}`);
  }
  try {
    return { output: await tool.run(parsed.data, ctx), isError: false };
  } catch (error) {
    if (error instanceof ToolError) return toolError(error.message);
    throw error;
  }
}
