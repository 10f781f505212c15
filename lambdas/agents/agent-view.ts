import * as z from '../domain/zod-mini.js';
import type { AgentDescriptor } from './agent.js';

/** An agent as discovery shows it (API contract, "Agents"). */
export interface AgentView {
  name: string;
  version: string;
  description: string;
  /** JSON Schema (draft 2020-12) of the input, generated from the schema that validates it. */
  inputSchema: { [key: string]: unknown };
  available: boolean;
  unavailableReason?: string;
}

const schemas = new WeakMap<object, { [key: string]: unknown }>();

function inputSchemaOf(agent: AgentDescriptor) {
  let schema = agent.inputJsonSchema ?? schemas.get(agent);
  if (!schema) schemas.set(agent, (schema = z.toJSONSchema(agent.inputSchema, { io: 'input' })));
  return schema;
}

export function agentView(agent: AgentDescriptor): AgentView {
  const reason = agent.unavailableReason?.();
  return {
    name: agent.name,
    version: agent.version,
    description: agent.description,
    inputSchema: inputSchemaOf(agent),
    available: reason === undefined,
    ...(reason === undefined ? {} : { unavailableReason: reason }),
  };
}
