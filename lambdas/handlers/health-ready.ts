import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { bedrockModelAvailability } from '../adapters/models/bedrock-availability.js';
import type { Readiness } from '../adapters/models/model-provider.js';
import { providerFor } from '../adapters/models/provider-from-env.js';
import { cachedReadiness } from '../adapters/models/readiness-cache.js';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, requireEnv } from '../config/env.js';
import type { ModelConfig } from '../config/model.js';
import { modelConfigFromEnv } from '../config/model.js';
import { httpHandler, logger } from './http/middleware.js';
import { json } from './http/response.js';

const tableName = requireEnv(ENV.tableName);
const dynamo = new DynamoDBClient({});
const workflow = new WorkflowClient(requireEnv(ENV.stateMachineArn));
const CHECK_TIMEOUT_MS = 2_000;

type CheckStatus = 'ok' | 'unavailable' | 'not_configured';

interface Check {
  name: string;
  run: () => Promise<{ status: CheckStatus; detail: string }>;
}

const fromBoolean = (ok: boolean) =>
  ({ status: ok ? 'ok' : 'unavailable', detail: ok ? 'ready' : 'not active' }) as const;

/**
 * The provider answers and offers the default model, asked at most once per 30 s per container
 * (cachedReadiness): a burst of probes costs the provider one request. The provider is built once;
 * a failed build (the API key secret unreadable) is tried again at the next uncached check.
 */
function providerReadiness(config: ModelConfig): () => Promise<Readiness> {
  let provider: ReturnType<typeof providerFor> | undefined;
  return cachedReadiness(async () => {
    provider ??= providerFor(config, bedrockModelAvailability).catch((error: unknown) => {
      provider = undefined;
      throw error;
    });
    return (await provider).checkReady(AbortSignal.timeout(CHECK_TIMEOUT_MS));
  });
}

function modelCheck(config: ModelConfig | undefined): Check['run'] {
  // No provider is a deployment without model agents, not an outage: it does not fail readiness.
  if (!config) return async () => ({ status: 'not_configured', detail: 'no model provider is configured' });
  const ready = providerReadiness(config);
  return async () => {
    const answer = await ready();
    return answer.ok ? { status: 'ok', detail: 'ready' } : { status: 'unavailable', detail: answer.reason };
  };
}

const CHECKS: Check[] = [
  {
    name: 'table',
    run: async () =>
      fromBoolean(
        (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus ===
          'ACTIVE',
      ),
  },
  { name: 'stateMachine', run: async () => fromBoolean(await workflow.isActive()) },
  { name: 'modelProvider', run: modelCheck(modelConfigFromEnv()) },
];

async function runCheck(check: Check) {
  try {
    return {
      name: check.name,
      ...(await Promise.race([
        check.run(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref(),
        ),
      ])),
    };
  } catch (error) {
    logger.warn('readiness check failed', { check: check.name, error: error as Error });
    return { name: check.name, status: 'unavailable', detail: (error as Error).name } as const;
  }
}

export const handler = httpHandler(async () => {
  const checks = await Promise.all(CHECKS.map(runCheck));
  const ready = checks.every((c) => c.status !== 'unavailable');
  return json(ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', checks });
});
