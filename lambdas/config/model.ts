import { ConfigError, ENV, optionalCount } from './env.js';

/** Which model provider the deployment uses, read once from the environment. */
export type ModelConfig =
  | {
      kind: 'openai';
      baseUrl: string;
      model: string;
      /** The key in clear (local stack) or the secret holding it (deployed); neither for open endpoints. */
      apiKey?: { value: string } | { secretArn: string };
    }
  | { kind: 'bedrock'; model: string };

/** Model calls per step before the job fails with `model_unavailable`, the first included. */
export const DEFAULT_MODEL_MAX_ATTEMPTS = 6;

const value = (env: NodeJS.ProcessEnv, name: string) => {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
};

function required(env: NodeJS.ProcessEnv, name: string, kind: string): string {
  const v = value(env, name);
  if (v === undefined)
    throw new ConfigError(`environment variable ${name} is required for the ${kind} model provider`);
  return v;
}

/**
 * The model provider configuration, or undefined when none is configured (then `assistant` is
 * unavailable and `echo` works as ever). The kind defaults to `openai` when a base URL is set.
 * A half-configured provider fails the cold start rather than the first job.
 */
export function modelConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ModelConfig | undefined {
  const baseUrl = value(env, ENV.openaiBaseUrl);
  const kind = value(env, ENV.modelProvider) ?? (baseUrl === undefined ? undefined : 'openai');
  if (kind === undefined) return undefined;
  if (kind === 'bedrock') return { kind, model: required(env, ENV.model, kind) };
  if (kind !== 'openai') {
    throw new ConfigError(
      `environment variable ${ENV.modelProvider} must be openai or bedrock, got "${kind}"`,
    );
  }
  const url = required(env, ENV.openaiBaseUrl, kind);
  if (!/^https?:\/\//i.test(url)) throw new ConfigError(`${ENV.openaiBaseUrl} must be an http(s) URL`);
  const key = value(env, ENV.openaiApiKey);
  const secretArn = value(env, ENV.openaiApiKeySecretArn);
  const apiKey = key !== undefined ? { value: key } : secretArn !== undefined ? { secretArn } : undefined;
  return { kind, baseUrl: url, model: required(env, ENV.model, kind), ...(apiKey ? { apiKey } : {}) };
}

export const modelMaxAttemptsFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  optionalCount(ENV.modelMaxAttempts, DEFAULT_MODEL_MAX_ATTEMPTS, env);

let cached: { config: ModelConfig | undefined } | undefined;

/** The process's model configuration, read on first use and kept. */
export function modelConfig(): ModelConfig | undefined {
  cached ??= { config: modelConfigFromEnv() };
  return cached.config;
}
