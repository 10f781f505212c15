import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, optionalDays, requireEnv } from '../config/env.js';
import { JOB_SK, jobPk, TABLE_KEYS } from '../config/table.js';
import type { InputRequest, Job, JobError, JsonValue } from '../domain/job.js';
import type { JobEvent, StepEvent } from '../domain/job-events.js';
import type {
  Checkpoint,
  EventQuery,
  JobStore,
  ListQuery,
  SubmitLimits,
  SweepCursor,
} from '../domain/job-store.js';
import type { RetentionPolicy } from '../domain/retention.js';
import { DEFAULT_RETENTION } from '../domain/retention.js';
import { documentClient } from './dynamo-table.js';
import { EventItems } from './job-store/event-items.js';
import { JobItems } from './job-store/jobs.js';
import { LiveIndex } from './job-store/live-index.js';
import type { LargeValueStore } from './large-value-store.js';

export { documentClient, dynamoClient, MARSHALL_OPTIONS } from './dynamo-table.js';
export { committedWrite, newJobItem } from './job-store/job-item.js';
export { JOB_SK, jobPk };
export const LIST_INDEX = TABLE_KEYS.listIndex;

/**
 * The jobs table behind one interface: job items, their event logs, Idempotency-Key items and the
 * sweep's live index each have a module of their own under `job-store/`; this class hands each call
 * to the one that owns it.
 */
export class DynamoJobStore implements JobStore {
  private readonly jobs: JobItems;
  private readonly events: EventItems;
  private readonly live: LiveIndex;

  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
    retention?: RetentionPolicy,
    values?: LargeValueStore,
  ) {
    this.jobs = new JobItems(tableName, client, retention, values);
    this.events = new EventItems(tableName, client, retention);
    this.live = new LiveIndex(tableName, client);
  }

  create(
    job: Job,
    fingerprint: string,
    now: Date,
    idempotencyKeyId?: string,
    limits?: SubmitLimits,
  ): ReturnType<JobStore['create']> {
    return this.jobs.create(job, fingerprint, now, idempotencyKeyId, limits);
  }

  get(tenant: string, id: string, now: Date) {
    return this.jobs.get(tenant, id, now);
  }

  list(tenant: string, query: ListQuery, now: Date) {
    return this.jobs.list(tenant, query, now);
  }

  cancel(tenant: string, id: string, now: Date) {
    return this.jobs.cancel(tenant, id, now);
  }

  loadForStep(tenant: string, id: string) {
    return this.jobs.loadForStep(tenant, id);
  }

  answeredWait(tenant: string, id: string) {
    return this.jobs.answeredWait(tenant, id);
  }

  appendEvents(tenant: string, id: string, step: number, events: readonly StepEvent[], now: Date) {
    return this.jobs.appendEvents(tenant, id, step, events, now);
  }

  checkpoint(tenant: string, id: string, cp: Checkpoint, now: Date) {
    return this.jobs.checkpoint(tenant, id, cp, now);
  }

  succeed(tenant: string, id: string, result: JsonValue, cp: Omit<Checkpoint, 'state'>, now: Date) {
    return this.jobs.succeed(tenant, id, result, cp, now);
  }

  requestInput(tenant: string, id: string, cp: Checkpoint, request: InputRequest, now: Date) {
    return this.jobs.requestInput(tenant, id, cp, request, now);
  }

  submitInput(tenant: string, id: string, answer: JsonValue, now: Date) {
    return this.jobs.submitInput(tenant, id, answer, now);
  }

  fail(tenant: string, id: string, error: JobError, now: Date, executionName?: string) {
    return this.jobs.fail(tenant, id, error, now, executionName);
  }

  redrive(tenant: string, id: string, now: Date) {
    return this.jobs.redrive(tenant, id, now);
  }

  /** The job's last committed write as its item records it, or undefined for a missing job. */
  latestWrite(tenant: string, id: string) {
    return this.jobs.latestWrite(tenant, id);
  }

  listEvents(tenant: string, id: string, query: EventQuery) {
    return this.events.listEvents(tenant, id, query);
  }

  /** TTL of the event and delivery items a write leaves the job in this state causes. */
  logTtl(job: Job): number {
    return this.events.logTtl(job);
  }

  /** Gives the job's event and delivery items that would expire before it the job's own TTL. */
  extendLog(tenant: string, id: string, ttl: number): Promise<number> {
    return this.events.extendLog(tenant, id, ttl);
  }

  loggedEvents(tenant: string, id: string) {
    return this.events.loggedEvents(tenant, id);
  }

  putEvent(tenant: string, id: string, event: JobEvent, ttl: number) {
    return this.events.putEvent(tenant, id, event, ttl);
  }

  listLivePage(before: string, from: SweepCursor, limit: number) {
    return this.live.listLivePage(before, from, limit);
  }

  sweepCursor() {
    return this.live.sweepCursor();
  }

  saveSweepCursor(cursor: SweepCursor) {
    return this.live.saveSweepCursor(cursor);
  }
}

/**
 * The store every handler uses, on the table and with the retention its function was given. A
 * function that shows or stores a job's large values passes its value store
 * (`largeValueStoreFromEnv` of s3-large-value-store.ts); without one, large values read as
 * omitted and cannot be written.
 */
export function jobStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  values?: LargeValueStore,
): DynamoJobStore {
  const retention = {
    ...DEFAULT_RETENTION,
    succeededDays: optionalDays(ENV.retentionSucceededDays, DEFAULT_RETENTION.succeededDays, env),
    failedDays: optionalDays(ENV.retentionFailedDays, DEFAULT_RETENTION.failedDays, env),
  };
  return new DynamoJobStore(requireEnv(ENV.tableName, env), documentClient, retention, values);
}
