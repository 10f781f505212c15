import { recordModelCall } from '../adapters/model-metrics.js';
import { type DynamoTokenBudget, tokenBudgetFromEnv } from '../adapters/dynamo-token-budget.js';
import { modelProvider } from '../adapters/models/provider-from-env.js';
import { deploymentFromEnv } from '../config/env.js';
import { modelMaxAttemptsFromEnv } from '../config/model.js';
import type { AgentDefinition } from './agent.js';
import { createAssistantAgent } from './assistant/assistant-agent.js';
import { agentLookup, modelUnavailableReason } from './catalog.js';
import { echoAgent } from './echo.js';

/**
 * The code that runs the agents' steps, for the step function only; everything else about an agent
 * is in catalog.ts, which the request handlers load instead.
 */

let tokenBudget: DynamoTokenBudget | undefined;

export const assistantAgent = createAssistantAgent({
  provider: modelProvider,
  unavailableReason: modelUnavailableReason,
  deployment: () => deploymentFromEnv(),
  maxAttempts: () => modelMaxAttemptsFromEnv(),
  recordModelCall,
  tokenBudget: () => (tokenBudget ??= tokenBudgetFromEnv()),
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds agents of every input and state type
type AnyAgent = AgentDefinition<any, any>;

/** The catalog's agents with their steps, in the catalog's order. */
export const BUILT_IN_AGENTS: readonly AnyAgent[] = [echoAgent, assistantAgent];

export type FindAgent = (name: string) => AgentDefinition<unknown, unknown> | undefined;

/** The deployment's agents by name: what the step runner looks agents up in. */
export const findAgent: FindAgent = agentLookup(BUILT_IN_AGENTS);
