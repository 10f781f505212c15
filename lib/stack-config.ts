import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DEFAULT_RETENTION } from '../lambdas/domain/retention.js';
import {
  BUILT_IN_LIMITS,
  LIMIT_NAMES,
  limitsSchema,
  type TenantLimits,
} from '../lambdas/domain/tenant-limits.js';
import { DEFAULT_RETRY_SCHEDULE_SECONDS, parseRetrySchedule } from '../lambdas/domain/webhook.js';

/**
 * The model provider behind the `assistant` agent. Bedrock: model or inference profile ids, the
 * first the default; the step may invoke exactly these. OpenAI-compatible: the endpoint, its
 * default model and the Secrets Manager secret holding its API key (optional for open endpoints).
 */
export type ModelProviderConfig =
  | { readonly kind: 'bedrock'; readonly modelIds: readonly string[] }
  | {
      readonly kind: 'openai';
      readonly baseUrl: string;
      readonly model: string;
      readonly apiKeySecretArn?: string;
    };

/** What a deployer may tune. Everything else follows from the route table and the agent registry. */
export interface AgentJobsConfig {
  /** Days finished jobs stay readable before TTL removes them. */
  readonly jobRetention: { readonly succeededDays: number; readonly failedDays: number };
  /** Guards the jobs table against deletion (by CloudFormation or by hand). */
  readonly deletionProtection: boolean;
  /** Stage-wide throttling, in requests per second (rate) and concurrent burst. */
  readonly apiThrottling: { readonly rateLimit: number; readonly burstLimit: number };
  /** Retention of every log group the stack creates. */
  readonly logRetention: RetentionDays;
  /** Seconds before each webhook delivery attempt (the first is the first attempt), before jitter. */
  readonly webhookRetrySchedule: readonly number[];
  /**
   * Where every alarm sends its notification: an existing SNS topic (`topicArn`), or a topic the
   * stack creates (KMS-encrypted), optionally mailing `email`.
   */
  readonly alarmNotifications: { readonly topicArn?: string; readonly email?: string };
  /** Limits of every tenant without its own (`agent-jobs tenants set-limits` overrides them per tenant). */
  readonly defaultLimits: TenantLimits;
  /**
   * Lambda concurrency reserved (and so also capped) per function: the authorizer, each buffered
   * API function, and the SSE stream function, so long agent steps and held streams cannot take
   * the account's concurrency from the functions that answer requests.
   */
  readonly reservedConcurrency: {
    readonly authorizer: number;
    readonly api: number;
    readonly streams: number;
  };
  /** Per-method throttling of the routes without a key (health, OpenAPI), apart from the tenants' routes. */
  readonly publicThrottling: { readonly rateLimit: number; readonly burstLimit: number };
  /** None by default: then `echo` runs and `assistant` answers 422 agent_unavailable. */
  readonly modelProvider?: ModelProviderConfig;
}

export type AgentJobsConfigInput = {
  readonly [K in keyof AgentJobsConfig]?: AgentJobsConfig[K] extends readonly unknown[]
    ? AgentJobsConfig[K]
    : AgentJobsConfig[K] extends object
      ? Partial<AgentJobsConfig[K]>
      : AgentJobsConfig[K];
};

/** App context key under which `cdk.json` or `-c` can pass an `AgentJobsConfigInput` as JSON. */
export const CONFIG_CONTEXT_KEY = 'agentJobs';

export const DEFAULT_CONFIG: AgentJobsConfig = {
  jobRetention: { succeededDays: DEFAULT_RETENTION.succeededDays, failedDays: DEFAULT_RETENTION.failedDays },
  deletionProtection: true,
  apiThrottling: { rateLimit: 50, burstLimit: 100 },
  logRetention: RetentionDays.ONE_MONTH,
  webhookRetrySchedule: DEFAULT_RETRY_SCHEDULE_SECONDS,
  alarmNotifications: {},
  defaultLimits: BUILT_IN_LIMITS,
  reservedConcurrency: { authorizer: 50, api: 10, streams: 50 },
  publicThrottling: { rateLimit: 10, burstLimit: 20 },
};

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
}

const VALID_LOG_RETENTION = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

function isInt(value: unknown, min: number, max: number): boolean {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

function scheduleProblem(schedule: unknown): string | undefined {
  if (!Array.isArray(schedule)) return 'must be an array of seconds';
  try {
    parseRetrySchedule(schedule.join(','));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function notificationProblems({
  topicArn,
  email,
}: AgentJobsConfig['alarmNotifications']): [boolean, string][] {
  return [
    [
      topicArn === undefined || TOPIC_ARN.test(topicArn),
      'alarmNotifications.topicArn must be an SNS topic ARN',
    ],
    [email === undefined || EMAIL.test(email), 'alarmNotifications.email must be an email address'],
    [
      topicArn === undefined || email === undefined,
      'alarmNotifications: give either topicArn (subscribe to it yourself) or email (for the created topic), not both',
    ],
  ];
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/;
const MODEL_ID = /^[\w.:/-]{1,256}$/;

function modelProviderProblems(p: ModelProviderConfig | undefined): [boolean, string][] {
  if (p === undefined) return [];
  if (p.kind === 'bedrock') {
    const ids = p.modelIds as unknown;
    return [
      [
        Array.isArray(ids) &&
          ids.length > 0 &&
          ids.every((id) => typeof id === 'string' && MODEL_ID.test(id)),
        'modelProvider.modelIds must be a non-empty list of Bedrock model or inference profile ids',
      ],
    ];
  }
  if (p.kind !== 'openai') return [[false, 'modelProvider.kind must be bedrock or openai']];
  return [
    [/^https:\/\//.test(String(p.baseUrl)), 'modelProvider.baseUrl must be an https URL'],
    [typeof p.model === 'string' && p.model.length > 0, 'modelProvider.model must be a model id'],
    [
      p.apiKeySecretArn === undefined || SECRET_ARN.test(p.apiKeySecretArn),
      'modelProvider.apiKeySecretArn must be a Secrets Manager secret ARN',
    ],
  ];
}

function configProblems(c: AgentJobsConfig): string[] {
  const checks: [boolean, string][] = [
    [isInt(c.jobRetention.succeededDays, 1, 3650), 'jobRetention.succeededDays must be an integer 1..3650'],
    [isInt(c.jobRetention.failedDays, 1, 3650), 'jobRetention.failedDays must be an integer 1..3650'],
    [typeof c.deletionProtection === 'boolean', 'deletionProtection must be a boolean'],
    [
      typeof c.apiThrottling.rateLimit === 'number' && c.apiThrottling.rateLimit > 0,
      'apiThrottling.rateLimit must be a positive number',
    ],
    [isInt(c.apiThrottling.burstLimit, 1, 1_000_000), 'apiThrottling.burstLimit must be a positive integer'],
    [
      VALID_LOG_RETENTION.has(c.logRetention),
      `logRetention must be one of CloudWatch's retention periods in days: ${[...VALID_LOG_RETENTION].join(', ')}`,
    ],
    [
      scheduleProblem(c.webhookRetrySchedule) === undefined,
      `webhookRetrySchedule: ${scheduleProblem(c.webhookRetrySchedule)}`,
    ],
    ...notificationProblems(c.alarmNotifications),
    [
      limitsSchema.safeParse(c.defaultLimits).success,
      `defaultLimits: each of ${LIMIT_NAMES.join(', ')} must be an integer >= 1`,
    ],
    ...(['authorizer', 'api', 'streams'] as const).map((k): [boolean, string] => [
      isInt(c.reservedConcurrency[k], 1, 10_000),
      `reservedConcurrency.${k} must be an integer 1..10000`,
    ]),
    [
      typeof c.publicThrottling.rateLimit === 'number' && c.publicThrottling.rateLimit > 0,
      'publicThrottling.rateLimit must be a positive number',
    ],
    [
      isInt(c.publicThrottling.burstLimit, 1, 1_000_000),
      'publicThrottling.burstLimit must be a positive integer',
    ],
    ...modelProviderProblems(c.modelProvider),
  ];
  return checks.filter(([ok]) => !ok).map(([, message]) => message);
}

/**
 * Merges overrides onto the defaults and rejects bad values before any construct exists, so a
 * typo fails `cdk synth` with a sentence instead of a CloudFormation rollback minutes later.
 * Accepts a JSON string because `cdk synth -c agentJobs='{...}'` passes context as text.
 */
export function resolveConfig(input: AgentJobsConfigInput | string | undefined): AgentJobsConfig {
  const given: AgentJobsConfigInput = typeof input === 'string' ? parseJson(input) : (input ?? {});
  const config: AgentJobsConfig = {
    jobRetention: { ...DEFAULT_CONFIG.jobRetention, ...given.jobRetention },
    deletionProtection: given.deletionProtection ?? DEFAULT_CONFIG.deletionProtection,
    apiThrottling: { ...DEFAULT_CONFIG.apiThrottling, ...given.apiThrottling },
    logRetention: given.logRetention ?? DEFAULT_CONFIG.logRetention,
    webhookRetrySchedule: given.webhookRetrySchedule ?? DEFAULT_CONFIG.webhookRetrySchedule,
    alarmNotifications: { ...DEFAULT_CONFIG.alarmNotifications, ...given.alarmNotifications },
    defaultLimits: { ...DEFAULT_CONFIG.defaultLimits, ...given.defaultLimits },
    reservedConcurrency: { ...DEFAULT_CONFIG.reservedConcurrency, ...given.reservedConcurrency },
    publicThrottling: { ...DEFAULT_CONFIG.publicThrottling, ...given.publicThrottling },
    ...(given.modelProvider ? { modelProvider: given.modelProvider as ModelProviderConfig } : {}),
  };
  const problems = configProblems(config);
  if (problems.length > 0) {
    throw new StackConfigError(`invalid agent-jobs stack configuration: ${problems.join('; ')}`);
  }
  return config;
}

function parseJson(text: string): AgentJobsConfigInput {
  try {
    return JSON.parse(text) as AgentJobsConfigInput;
  } catch (error) {
    throw new StackConfigError(`context ${CONFIG_CONTEXT_KEY} is not valid JSON`, { cause: error });
  }
}
