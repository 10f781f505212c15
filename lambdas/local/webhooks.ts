import { join } from 'node:path';
import { FileWebhookSecrets, LOCAL_WEBHOOK_SECRETS_FILE } from './file-webhook-secrets.js';
import { ENV } from '../config/env.js';
import { DEV_TENANT } from './api-keys.js';

/**
 * The local retry schedule: the deployed one spans days; here the first three attempts fall
 * within 30 seconds (CONTRACT.md). AGENT_JOBS_WEBHOOK_RETRY_SCHEDULE replaces it (tests use a
 * tighter one); the same deliverer code runs either way.
 */
export const LOCAL_WEBHOOK_RETRY_SCHEDULE = '0,5,20,60,300,1800';

/** The local stack's webhook secrets, in place of Secrets Manager: the deliverer is built over this store. */
export const localWebhookSecrets = (dataDir: string) =>
  new FileWebhookSecrets(join(dataDir, LOCAL_WEBHOOK_SECRETS_FILE));

/** What the handlers need locally in place of the deployed schedule. */
export function localWebhookEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return {
    [ENV.webhookRetrySchedule]: env.AGENT_JOBS_WEBHOOK_RETRY_SCHEDULE || LOCAL_WEBHOOK_RETRY_SCHEDULE,
  };
}

/**
 * Every tenant with a key gets its signing secret before the first webhook needs it, so a
 * receiver (or a test) can read it from the secrets file at once. The dev tenant's comes from
 * AGENT_JOBS_WEBHOOK_SECRET when set, else it is kept from the last run or generated.
 * Returns the dev tenant's secret, for the start-up banner.
 */
export async function seedWebhookSecrets(
  dataDir: string,
  tenants: readonly string[],
  devSecret: string | undefined,
): Promise<string> {
  const secrets = localWebhookSecrets(dataDir);
  if (devSecret) await secrets.seed(DEV_TENANT, devSecret);
  for (const tenant of tenants) await secrets.current(tenant);
  return secrets.current(DEV_TENANT);
}
