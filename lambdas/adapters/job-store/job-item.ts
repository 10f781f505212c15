import {
  INPUT_TOKEN_ATTRIBUTE,
  JOB_SK,
  jobPk,
  listSk,
  liveShard,
  TABLE_KEYS,
  tenantPk,
} from '../../config/table.js';
import { CREATED_EVENTS } from '../../config/job-writes.js';
import { DomainError } from '../../domain/errors.js';
import type { Job, JobUsage, JsonValue, OmittedValue } from '../../domain/job.js';
import { LARGE_VALUE_NAMES, refAttribute, type ValueRef } from '../../domain/large-values.js';
import { isTerminal } from '../../domain/job.js';
import type { CommittedWrite, JobEventType } from '../../domain/job-events.js';
import type { Checkpoint } from '../../domain/job-store.js';
import { toTtl } from '../../domain/retention.js';

/** The stored item: the job plus keys, TTL, the idempotency fingerprint and the step checkpoint. */
export interface JobItem extends Omit<Job, 'startedAt'> {
  startedAt?: string | null;
  [TABLE_KEYS.partition]: string;
  [TABLE_KEYS.sort]: string;
  [TABLE_KEYS.listPartition]: string;
  [TABLE_KEYS.listSort]: string;
  [TABLE_KEYS.livePartition]?: string;
  [TABLE_KEYS.liveSort]?: string;
  [TABLE_KEYS.ttl]: number;
  fingerprint: string;
  completedSteps: number;
  agentState?: JsonValue;
  answer?: JsonValue;
  /** References of values stored outside the item (large-values.ts), in place of the values. */
  inputRef?: ValueRef;
  metadataRef?: ValueRef;
  resultRef?: ValueRef;
  agentStateRef?: ValueRef;
  answerRef?: ValueRef;
  /** Step Functions task token of the wait for input; internal, never shown to clients. */
  inputToken?: string;
  /** When the wait for input was answered; cleared with the token by the next step's write. */
  answeredAt?: string;
  /** The events the last write caused, in order; the events consumer turns them into log items. */
  lastEventTypes: JobEventType[];
  /** The data of the last write's step events (see appendEvents), by position in lastEventTypes. */
  lastEventData?: JsonValue[];
  /** The step (completedSteps + 1 when written) of the last step events announced. */
  eventsStep?: number;
  /** The usage of the attempts before the last redrive (null when they reported none). */
  earlierUsage?: JobUsage | null;
  progressData?: JsonValue;
}

const INTERNAL_ATTRIBUTES = [
  TABLE_KEYS.partition,
  TABLE_KEYS.sort,
  TABLE_KEYS.listPartition,
  TABLE_KEYS.listSort,
  TABLE_KEYS.livePartition,
  TABLE_KEYS.liveSort,
  TABLE_KEYS.ttl,
  'fingerprint',
  'completedSteps',
  'agentState',
  'answer',
  INPUT_TOKEN_ATTRIBUTE,
  'answeredAt',
  'lastEventTypes',
  'lastEventData',
  'eventsStep',
  'earlierUsage',
  'progressData',
  ...LARGE_VALUE_NAMES.map(refAttribute),
] as const;

/** A public value the item holds only by reference, as a job shows it until it is read back. */
const OMITTED_AS: Record<OmittedValue, null | Record<string, never>> = {
  input: null,
  metadata: {},
  result: null,
};

/**
 * The job an item holds. A value still held by reference (stream images, a function without the
 * value store) shows as null (metadata: {}) and is named in `omitted`.
 */
export function toJob(item: object): Job {
  const job: Record<string, unknown> = { ...item };
  const omitted = (Object.keys(OMITTED_AS) as OmittedValue[]).filter((n) => refAttribute(n) in job);
  for (const name of INTERNAL_ATTRIBUTES) delete job[name];
  for (const name of omitted) job[name] = OMITTED_AS[name];
  if (omitted.length > 0) job.omitted = omitted;
  job.startedAt ??= null;
  job.inputRequest ??= null;
  // Jobs written before the event log have no counter; their first logged event is then seq 1.
  job.eventSeq ??= 0;
  // Jobs stored before agents had versions and usage was kept.
  job.agentVersion ??= null;
  job.usage ??= null;
  return job as unknown as Job;
}

/** The key of a job's own item. */
export const jobKey = (tenant: string, id: string) => ({
  [TABLE_KEYS.partition]: jobPk(tenant, id),
  [TABLE_KEYS.sort]: JOB_SK,
});

/**
 * What a step's write clears once the wait for input it follows is over: the answered wait's task
 * token and when it was answered (see `answeredWait`).
 */
export const RESUMED = `${INPUT_TOKEN_ATTRIBUTE}, answeredAt`;
/** A terminal write takes the job out of the sparse live index. */
export const LIVE_KEYS = `${TABLE_KEYS.livePartition}, ${TABLE_KEYS.liveSort}`;

/** What every write that ends a step records of it: its progress report, the step count and usage. */
export const stepValues = (cp: Omit<Checkpoint, 'state'>) => ({
  ':progress': cp.progress,
  ':data': cp.progressData ?? null,
  ':steps': cp.completedSteps,
  ':usage': cp.usage ?? null,
});

/** Usage is set by agents that report it and left alone by the others. */
export const usageUpdate = (cp: Omit<Checkpoint, 'state'>) =>
  cp.usage === undefined ? '#usage = if_not_exists(#usage, :usage), ' : '#usage = :usage, ';
/** `usage` is a DynamoDB reserved word. */
export const USAGE_NAME = { '#usage': 'usage' };

/** The item a submit writes: the new job with its keys, TTL and fingerprint, in both indexes. */
export function newJobItem(job: Job, fingerprint: string): JobItem {
  // startedAt is absent, not null, until the workflow sets it: MarkRunning's if_not_exists keeps the first start.
  const { startedAt: _notStarted, ...unstarted } = job;
  return {
    ...unstarted,
    ...jobKey(job.tenant, job.id),
    [TABLE_KEYS.listPartition]: tenantPk(job.tenant),
    [TABLE_KEYS.listSort]: listSk(job),
    [TABLE_KEYS.livePartition]: liveShard(job.id),
    [TABLE_KEYS.liveSort]: listSk(job),
    [TABLE_KEYS.ttl]: toTtl(job.expiresAt),
    fingerprint,
    completedSteps: 0,
    lastEventTypes: [...CREATED_EVENTS],
  };
}

/** Submit's answer to a retry: the job the key created (its values read back by the caller). */
export const replayOf = (item: JobItem) => ({
  job: toJob(item),
  created: false,
  fingerprint: item.fingerprint,
});

export const refusal = (old: JobItem, message: string) =>
  new DomainError(isTerminal(old.status) ? 'job_terminal' : 'invalid_transition', message);

/**
 * A job item's stream images as the write they record, or undefined for any other item (API keys,
 * events) and for items written before the event log existed. `ttl` is the job's at that write.
 */
export function committedWrite(
  newImage: Record<string, unknown> | undefined,
  oldImage: Record<string, unknown> | undefined,
): { write: CommittedWrite; tenant: string; id: string; ttl: number } | undefined {
  if (!newImage || newImage[TABLE_KEYS.sort] !== JOB_SK) return undefined;
  const item = newImage as unknown as JobItem;
  if (typeof item.eventSeq !== 'number' || !Array.isArray(item.lastEventTypes)) return undefined;
  const job = toJob(item);
  return {
    tenant: job.tenant,
    id: job.id,
    ttl: item.ttl,
    write: {
      job,
      previousSeq: (oldImage?.eventSeq as number | undefined) ?? 0,
      eventTypes: item.lastEventTypes,
      progressData: item.progressData ?? null,
      eventData: item.lastEventData ?? null,
    },
  };
}
