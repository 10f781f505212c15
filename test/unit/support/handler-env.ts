import { vi } from 'vitest';
import {
  JOB_DLQ_URL,
  STATE_MACHINE_ARN,
  TABLE_NAME,
  VALUES_BUCKET,
  WEBHOOK_DLQ_URL,
  WEBHOOK_QUEUE_URL,
} from './fixtures.js';

/**
 * Handlers read their environment when their module loads: import this first, then import the
 * handler dynamically.
 */
vi.stubEnv('JOBS_TABLE_NAME', TABLE_NAME);
vi.stubEnv('JOB_VALUES_BUCKET', VALUES_BUCKET);
vi.stubEnv('STATE_MACHINE_ARN', STATE_MACHINE_ARN);
vi.stubEnv('JOB_DLQ_URL', JOB_DLQ_URL);
vi.stubEnv('WEBHOOK_QUEUE_URL', WEBHOOK_QUEUE_URL);
vi.stubEnv('WEBHOOK_DLQ_URL', WEBHOOK_DLQ_URL);
vi.stubEnv('WEBHOOK_RETRY_SCHEDULE', '0,5,60');
vi.stubEnv('WEBHOOK_SECRETS_PREFIX', 'agent-jobs/test/webhook-secrets/');
// A deployed stack's rules (https-only webhooks...) unless a test says otherwise; stubs outlive a file.
vi.stubEnv('AGENT_JOBS_DEPLOYMENT', 'aws');
vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
vi.stubEnv('AWS_REGION', 'eu-west-1');
// No model provider unless a test configures one (the integration stack's, set in this process's
// environment by its global setup, must not leak into handler tests).
vi.stubEnv('AGENT_JOBS_MODEL_PROVIDER', '');
vi.stubEnv('AGENT_JOBS_OPENAI_BASE_URL', '');
vi.stubEnv('AGENT_JOBS_OPENAI_API_KEY', '');
vi.stubEnv('AGENT_JOBS_MODEL', '');
