import type { AgentDescriptor } from '../agent.js';
import type { AssistantInput } from './input.js';
import { assistantInputSchema } from './input.js';

export const ASSISTANT_VERSION = '1.0.0';

/** A model call streams for up to 10 minutes; server tools and the checkpoint need the rest. */
const STEP_TIMEOUT_SECONDS = 660;
/** The idle-chunk bound of a model call is 60 s; a step silent for longer than this is hung. */
const HEARTBEAT_SECONDS = 120;

/** The built-in `assistant` as the functions that accept and list jobs see it; assistant-agent.ts runs it. */
export function assistantDescriptor(
  unavailableReason: () => string | undefined,
): AgentDescriptor<AssistantInput> {
  return {
    name: 'assistant',
    version: ASSISTANT_VERSION,
    description:
      'Tool-using LLM agent: answers a prompt or conversation, calling server tools (fetch_url) and client tools until done.',
    inputSchema: assistantInputSchema,
    unavailableReason,
    stepTimeoutSeconds: STEP_TIMEOUT_SECONDS,
    heartbeatSeconds: HEARTBEAT_SECONDS,
    defaultTimeoutSeconds: 3_600,
    maxTimeoutSeconds: 86_400,
    inputTimeout: { defaultSeconds: 3_600, maxSeconds: 86_400 },
  };
}
