import type { z } from 'zod';
import type { JsonValue } from '../../domain/job.js';
import type { Deployment } from '../../domain/webhook-url.js';

/** What a server tool gets besides its arguments. */
export interface ServerToolContext {
  /** Aborted when the step ends early: stop promptly. */
  signal: AbortSignal;
  /** Decides which addresses outbound requests may reach. */
  deployment: Deployment;
}

/**
 * A tool that runs inside the agent step. Its arguments are validated with `inputSchema` before
 * `run` sees them, and the model is shown the JSON Schema generated from that same schema.
 */
export interface ServerTool<Input = unknown> {
  name: string;
  description: string;
  inputSchema: z.ZodType<Input>;
  /**
   * The longest `run` can take: it holds itself to this bound (its own timeouts), so the step
   * that made the model call may run it right after its checkpoint, in the same invocation.
   */
  maxDurationMs: number;
  /** The result the model reads. Throw ToolError for a failure the model should read instead. */
  run(input: Input, ctx: ServerToolContext): Promise<JsonValue>;
}

/** A failure the model is told about (a page that cannot be fetched), not a failure of the step. */
export class ToolError extends Error {
  override readonly name = 'ToolError';
}

/**
 * The built-in server tools a job may enable with `serverTools`. Named here, apart from their code
 * in server-tools.ts, so that validating a job's input does not load what runs the tools.
 */
export const SERVER_TOOL_NAMES: readonly [string, ...string[]] = ['fetch_url'];

/** Tool names both providers accept. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Declares a server tool with its input type inferred from its schema. */
export function defineServerTool<Schema extends z.ZodType>(
  tool: ServerTool<z.output<Schema>> & { inputSchema: Schema },
): ServerTool<z.output<Schema>> {
  if (!TOOL_NAME.test(tool.name)) throw new Error(`server tool name ${tool.name} must match ${TOOL_NAME}`);
  return tool;
}
