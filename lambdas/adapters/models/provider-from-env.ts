import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ModelConfig } from '../../config/model.js';
import { modelConfig } from '../../config/model.js';
import { ConfigError } from '../../config/env.js';
import { withoutSdkLogging } from '../sdk-clients.js';
import type { ModelAvailability } from './bedrock.js';
import { BedrockProvider } from './bedrock.js';
import type { ModelProvider } from './model-provider.js';
import { OpenAiCompatibleProvider } from './openai-compatible.js';

const secrets = withoutSdkLogging(new SecretsManagerClient({ maxAttempts: 2 }));

async function apiKeyOf(config: Extract<ModelConfig, { kind: 'openai' }>): Promise<string | undefined> {
  const key = config.apiKey;
  if (key === undefined) return undefined;
  if ('value' in key) return key.value;
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: key.secretArn }));
  if (!out.SecretString) throw new ConfigError('the model API key secret holds no string value');
  return out.SecretString.trim();
}

/** Builds the provider a configuration names; `availability` only where readiness is answered. */
export async function providerFor(
  config: ModelConfig,
  availability?: ModelAvailability,
): Promise<ModelProvider> {
  if (config.kind === 'bedrock') {
    return new BedrockProvider({ defaultModel: config.model, ...(availability ? { availability } : {}) });
  }
  const apiKey = await apiKeyOf(config);
  return new OpenAiCompatibleProvider({
    baseUrl: config.baseUrl,
    defaultModel: config.model,
    ...(apiKey === undefined ? {} : { apiKey }),
  });
}

let provider: Promise<ModelProvider | undefined> | undefined;

/**
 * The process's model provider, built on first use (the API key secret is read once per container)
 * and kept; undefined when none is configured. A failed build is not kept, so the next call tries again.
 */
export function modelProvider(): Promise<ModelProvider | undefined> {
  const config = modelConfig();
  if (!config) return Promise.resolve(undefined);
  provider ??= providerFor(config).catch((error: unknown) => {
    provider = undefined;
    throw error;
  });
  return provider;
}
