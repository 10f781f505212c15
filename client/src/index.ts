export type { components, operations, paths } from './api-types.js';
export {
  AgentJobsClient,
  type AgentJobsClientOptions,
  type CreateJobOptions,
  type ListJobsOptions,
  type RunManyOptions,
  type RunResult,
  type UsageOptions,
} from './client.js';
export { type CallOptions, type EventsOptions, JobHandle, type WaitOptions } from './job-handle.js';
export { type FieldError, type Problem, ProblemError, WaitTimeoutError } from './problem.js';
export type { RetryOptions } from './retry.js';
export {
  type Agent,
  type CreateJobRequest,
  isTerminal,
  isTerminalEvent,
  type Job,
  type JobEvent,
  type JobStatus,
  type JobSummary,
  type UsageDay,
  type UsageReport,
} from './types.js';
export { verifyWebhook, Webhook, type WebhookEvent, WebhookVerificationError } from './webhooks.js';
