/**
 * Environment variable names shared by the CDK constructs (which set them) and the handlers
 * (which read them once at start-up). Keeping them in one place is what stops the two drifting.
 */
export const ENV = {
  tableName: 'JOBS_TABLE_NAME',
  /** Bucket of job values too large for the job item (inputs, results, agent state). */
  valuesBucket: 'JOB_VALUES_BUCKET',
  stateMachineArn: 'STATE_MACHINE_ARN',
  jobDlqUrl: 'JOB_DLQ_URL',
  deployment: 'AGENT_JOBS_DEPLOYMENT',
  retentionSucceededDays: 'JOB_RETENTION_SUCCEEDED_DAYS',
  retentionFailedDays: 'JOB_RETENTION_FAILED_DAYS',
  streamMaxSeconds: 'STREAM_MAX_SECONDS',
  sweepMinAgeSeconds: 'SWEEP_MIN_AGE_SECONDS',
  webhookQueueUrl: 'WEBHOOK_QUEUE_URL',
  webhookDlqUrl: 'WEBHOOK_DLQ_URL',
  /** Seconds before each delivery attempt, comma-separated: `0,5,300,...` (the first is the first attempt). */
  webhookRetrySchedule: 'WEBHOOK_RETRY_SCHEDULE',
  /** Deployed stack: tenants' signing secrets are Secrets Manager secrets named `<prefix><tenant>`. */
  webhookSecretsPrefix: 'WEBHOOK_SECRETS_PREFIX',
  /** JSON: the limits of tenants without their own (`TenantLimits` keys; missing keys keep the built-in values). */
  defaultLimits: 'AGENT_JOBS_DEFAULT_LIMITS',
  /** The model provider behind the `assistant` agent: `openai` (any OpenAI-compatible endpoint) or `bedrock`. */
  modelProvider: 'AGENT_JOBS_MODEL_PROVIDER',
  /** The default model id (an OpenAI-compatible model name, or a Bedrock model or inference profile id). */
  model: 'AGENT_JOBS_MODEL',
  /** OpenAI-compatible endpoint up to its version segment, e.g. `http://127.0.0.1:11434/v1`. */
  openaiBaseUrl: 'AGENT_JOBS_OPENAI_BASE_URL',
  /** Local stack: the endpoint's API key in clear (optional). */
  openaiApiKey: 'AGENT_JOBS_OPENAI_API_KEY',
  /** Deployed stack: the Secrets Manager secret (ARN) whose string value is the endpoint's API key. */
  openaiApiKeySecretArn: 'AGENT_JOBS_OPENAI_API_KEY_SECRET_ARN',
  /** Model calls a step makes (the first plus retries) before the job fails with `model_unavailable`. */
  modelMaxAttempts: 'AGENT_JOBS_MODEL_MAX_ATTEMPTS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** `aws` for a deployed stack, `local` for `npm start`; decides what a webhook URL may point at. */
export type Deployment = 'aws' | 'local';

/** Anything but an explicit `local` is treated as a deployed stack: the strict rules are the default. */
export const deploymentFromEnv = (env: NodeJS.ProcessEnv = process.env): Deployment =>
  env[ENV.deployment] === 'local' ? 'local' : 'aws';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads a required variable; a missing one fails the cold start loudly instead of the first request. */
export function requireEnv(name: EnvName, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`environment variable ${name} is required but not set`);
  }
  return value;
}

/** A whole number (at least 1) of `unit`, or the default when unset; anything else fails the cold start. */
function optionalWholeNumber(name: EnvName, fallback: number, unit: string, env: NodeJS.ProcessEnv): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new ConfigError(`environment variable ${name} must be a whole number of ${unit}, got "${value}"`);
  }
  return n;
}

export const optionalDays = (name: EnvName, fallback: number, env: NodeJS.ProcessEnv = process.env) =>
  optionalWholeNumber(name, fallback, 'days', env);

export const optionalCount = (name: EnvName, fallback: number, env: NodeJS.ProcessEnv = process.env) =>
  optionalWholeNumber(name, fallback, 'attempts', env);

export const optionalSeconds = (name: EnvName, fallback: number, env: NodeJS.ProcessEnv = process.env) =>
  optionalWholeNumber(name, fallback, 'seconds', env);
