import { OpenAiCompatibleProvider } from '../../../../lambdas/adapters/models/openai-compatible.js';
import {
  type AssistantDeps,
  createAssistantAgent,
} from '../../../../lambdas/agents/assistant/assistant-agent.js';
import type { TokenBudget } from '../../../../lambdas/domain/token-budget.js';
import { type ScriptedReply, ScriptedModelServer } from '../../../fixtures/scripted-model-server.js';

const MODEL = 'scripted-model';

/**
 * The `assistant` agent as the registry builds it, its provider an OpenAI-compatible client of a
 * scripted server on loopback (which the caller closes) and its model calls budgeted by `tokenBudget`.
 */
export async function scriptedAssistant(
  script: ScriptedReply[],
  tokenBudget: TokenBudget,
  deps: Pick<AssistantDeps, 'random'> = {},
) {
  const server = await new ScriptedModelServer({ script, models: [MODEL] }).start();
  const provider = new OpenAiCompatibleProvider({ baseUrl: server.baseUrl, defaultModel: MODEL });
  const agent = createAssistantAgent({
    provider: async () => provider,
    unavailableReason: () => undefined,
    deployment: () => 'local',
    maxAttempts: () => 3,
    recordModelCall: () => {},
    tokenBudget: () => tokenBudget,
    ...deps,
  });
  return { server, agent };
}
