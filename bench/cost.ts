import { HANDLER_METADATA_KEY, INTERNAL_HANDLERS } from '../lambdas/config/routes.js';
import { type CfnTemplate, resourcesOfType } from '../lambdas/local/template.js';
import type { Figures } from './context.js';
import { round } from './stats.js';

/**
 * AWS list prices, us-east-1, on-demand, without free tiers, as of `asOf`. Sources (re-check them
 * when this date is old; prices only enter the model through this table):
 * - API Gateway REST API, first 333 million requests a month: aws.amazon.com/api-gateway/pricing
 * - Lambda on Arm (the stack's architecture), requests and GB-seconds, first tier: aws.amazon.com/lambda/pricing
 * - Step Functions Standard workflows, per state transition: aws.amazon.com/step-functions/pricing
 * - DynamoDB on-demand write and read request units (after the November 2024 price cut):
 *   aws.amazon.com/dynamodb/pricing/on-demand; GetRecords on a stream by a Lambda trigger is free
 * - SQS standard queue requests: aws.amazon.com/sqs/pricing
 * - CloudWatch Logs standard ingestion: aws.amazon.com/cloudwatch/pricing
 */
export const PRICES = {
  asOf: '2026-11-22',
  region: 'us-east-1',
  apiGatewayRestPerRequest: 3.5 / 1e6,
  lambdaArmPerRequest: 0.2 / 1e6,
  lambdaArmPerGbSecond: 0.0000133334,
  stepFunctionsPerTransition: 0.025 / 1e3,
  dynamoDbPerWriteUnit: 0.625 / 1e6,
  dynamoDbPerReadUnit: 0.125 / 1e6,
  sqsPerRequest: 0.4 / 1e6,
  logsPerGbIngested: 0.5,
} as const;

/**
 * Billed milliseconds per invocation in AWS. Stated, not measured: each handler's work is one or two
 * single-digit-millisecond DynamoDB calls or one Step Functions call, and Lambda bills per 1 ms.
 */
const ASSUMED_BILLED_MS: Record<string, number> = {
  [INTERNAL_HANDLERS.authorizer]: 5,
  'create-job': 15,
  'get-job': 10,
  [INTERNAL_HANDLERS.agentStep]: 25,
};
/** A stream consumer's batch: a few records, each one SDK call. */
const ASSUMED_STREAM_BATCH_MS = 30;

/** Log bytes ingested: Lambda's START/END/REPORT lines plus one structured line; one access-log line. */
const ASSUMED_LOG_BYTES = { perLambdaInvocation: 500, perApiRequest: 600, perStateTransition: 300 };

export const POLLS_PER_JOB = 5;
const STEPS_PER_JOB = 3;
const JOBS = 1000;

/** What one job costs to run, counted (or, where the comment says so, assumed) per job. */
export interface JobCounts {
  /** Submit and polls: each is one API Gateway request and one authorizer invocation. */
  apiRequests: number;
  /** Lambda invocations per handler, the authorizer's left out (it follows apiRequests). */
  invocations: Record<string, number>;
  /** Billed milliseconds per invocation for handlers measured in the run, over ASSUMED_BILLED_MS. */
  billedMs?: Record<string, number>;
  transitions: number;
  writeUnits: number;
  consistentReadUnits: number;
  eventualReadUnits: number;
}

/** Per-job dollars by service, from the counts, the template's memory sizes and PRICES. */
export function jobCostParts(counts: JobCounts, template: CfnTemplate): Record<string, number> {
  const invocations = { [INTERNAL_HANDLERS.authorizer]: counts.apiRequests, ...counts.invocations };
  const lambdaRequests = Object.values(invocations).reduce((a, b) => a + b, 0);
  const billedMs = { ...ASSUMED_BILLED_MS, ...counts.billedMs };
  const gbSeconds = Object.entries(invocations).reduce((sum, [handler, n]) => {
    const ms = billedMs[handler] ?? ASSUMED_STREAM_BATCH_MS;
    return sum + n * (functionMemoryMb(template, handler) / 1024) * (ms / 1000);
  }, 0);
  const logBytes =
    lambdaRequests * ASSUMED_LOG_BYTES.perLambdaInvocation +
    counts.apiRequests * ASSUMED_LOG_BYTES.perApiRequest +
    counts.transitions * ASSUMED_LOG_BYTES.perStateTransition;
  return {
    apiGateway: counts.apiRequests * PRICES.apiGatewayRestPerRequest,
    lambda: lambdaRequests * PRICES.lambdaArmPerRequest + gbSeconds * PRICES.lambdaArmPerGbSecond,
    stepFunctions: counts.transitions * PRICES.stepFunctionsPerTransition,
    dynamodb:
      counts.writeUnits * PRICES.dynamoDbPerWriteUnit +
      (counts.consistentReadUnits + counts.eventualReadUnits / 2) * PRICES.dynamoDbPerReadUnit,
    sqs: 0,
    logs: (logBytes / 1024 ** 3) * PRICES.logsPerGbIngested,
    // Not a price: carried out for the figures.
    lambdaRequests,
    gbSeconds,
  };
}

/** The parts' total, per 1,000 jobs, and each part under `prefix`. */
export function per1kJobs(prefix: string, parts: Record<string, number>): Figures {
  const { lambdaRequests = 0, gbSeconds = 0, ...dollars } = parts;
  const total = Object.values(dollars).reduce((a, b) => a + b, 0);
  return {
    [`${prefix}.usd`]: round(total * JOBS, 4),
    ...Object.fromEntries(
      Object.entries(dollars).map(([part, usd]) => [`${prefix}.${part}.usd`, round(usd * JOBS, 5)]),
    ),
    [`${prefix}.lambdaGbSeconds`]: round(gbSeconds * JOBS, 2),
    [`${prefix}.lambdaInvocations`]: lambdaRequests * JOBS,
  };
}

/** The stream consumers of the template, each invoked `times` per job. */
export const streamInvocations = (template: CfnTemplate, times: number) =>
  Object.fromEntries(streamConsumers(template).map((handler) => [handler, times]));

/**
 * Cost of 1,000 three-step jobs polled 5 times each, from this run's counts and the template's
 * memory sizes. A succeeded job sends nothing to SQS; a failed one sends one DLQ message.
 */
export function costPer1kJobs(figures: Figures, template: CfnTemplate): Figures {
  const need = (key: string) => {
    const value = figures[key];
    if (value === undefined || Number.isNaN(value)) throw new Error(`the cost model needs ${key}`);
    return value;
  };
  const readUnits = Math.ceil(need('job.itemBytes') / 4096);
  // Priced as submitted with an Idempotency-Key (one more consistent read than without). Write
  // units are as DynamoDB reported them for the counted writes: the table's and each index's.
  const writeUnits = need('submit.keyed.ddbWriteUnits') + need('job.ddbWriteUnits');
  const consistentReads =
    need('submit.keyed.ddbConsistentReads') +
    need('job.ddbConsistentReads') +
    POLLS_PER_JOB * need('poll.ddbConsistentReads');
  const reads = need('submit.keyed.ddbReads') + need('job.ddbReads') + POLLS_PER_JOB * need('poll.ddbReads');
  // The authorizer's result cache TTL is 0, so every request invokes it. Each stream consumer is
  // counted once per job: at low traffic a batch holds one job's records, under load up to 25 jobs'.
  const parts = jobCostParts(
    {
      apiRequests: 1 + POLLS_PER_JOB,
      invocations: {
        'create-job': 1,
        'get-job': POLLS_PER_JOB,
        [INTERNAL_HANDLERS.agentStep]: STEPS_PER_JOB,
        ...streamInvocations(template, 1),
      },
      transitions: need('sfn.transitionsPerJob'),
      writeUnits,
      consistentReadUnits: consistentReads * readUnits,
      eventualReadUnits: (reads - consistentReads) * readUnits,
    },
    template,
  );
  return {
    ...per1kJobs('cost.per1kJobs', parts),
    'cost.per1kJobs.apiRequests': (1 + POLLS_PER_JOB) * JOBS,
    'cost.per1kJobs.ddbWriteUnits': writeUnits * JOBS,
  };
}

/** The handlers behind the template's event source mappings: the table's stream consumers. */
function streamConsumers(template: CfnTemplate): string[] {
  return resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').map(([, mapping]) => {
    const fn = (mapping.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref;
    const handler = fn && template.Resources[fn]?.Metadata?.[HANDLER_METADATA_KEY];
    if (typeof handler !== 'string') throw new Error(`an event source mapping targets no known handler`);
    return handler;
  });
}

/** The configured memory of the function built from `lambdas/handlers/<handler>.ts`. */
function functionMemoryMb(template: CfnTemplate, handler: string): number {
  const found = resourcesOfType(template, 'AWS::Lambda::Function').find(
    ([, fn]) => fn.Metadata?.[HANDLER_METADATA_KEY] === handler,
  );
  const memory = found?.[1].Properties?.MemorySize;
  if (typeof memory !== 'number') throw new Error(`no function with a memory size for handler ${handler}`);
  return memory;
}
