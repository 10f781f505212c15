import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ENV, optionalDays, requireEnv } from '../config/env.js';
import {
  EVENT_SK_PREFIX,
  eventSk,
  INPUT_TOKEN_ATTRIBUTE,
  JOB_SK,
  LIVE_SHARD_PREFIX,
  LIVE_SHARDS,
  liveShard,
  TABLE_KEYS,
} from '../config/table.js';
import type { ListPosition } from '../domain/cursor.js';
import { DomainError, NotFoundError } from '../domain/errors.js';
import type { InputRequest, Job, JobError, JobStatus, JsonValue } from '../domain/job.js';
import { canRedrive, isTerminal, redriveExecutionName, sourcesOf } from '../domain/job.js';
import type { CommittedWrite, JobEvent, JobEventType } from '../domain/job-events.js';
import type {
  Checkpoint,
  EventQuery,
  JobStore,
  ListQuery,
  LiveJob,
  StepSnapshot,
} from '../domain/job-store.js';
import type { RetentionPolicy } from '../domain/retention.js';
import { DEFAULT_RETENTION, isExpired, liveExpiry, terminalExpiry, toTtl } from '../domain/retention.js';
import { withoutSdkLogging } from './sdk-clients.js';

export { JOB_SK };
export const LIST_INDEX = TABLE_KEYS.listIndex;
const KEY_SK = 'KEY';
/** A terminal write takes the job out of the sparse live index. */
const LIVE_KEYS = `${TABLE_KEYS.livePartition}, ${TABLE_KEYS.liveSort}`;
/** How many index pages one list request may read while a status filter skips items. */
const MAX_LIST_PAGES = 5;

export const jobPk = (tenant: string, id: string) => `T#${tenant}#J#${id}`;
const tenantPk = (tenant: string) => `T#${tenant}`;
const listSk = (p: ListPosition) => `${p.createdAt}#${p.id}`;
const keyPk = (hash: string) => `K#${hash}`;

/** The stored item: the job plus keys, TTL, the idempotency fingerprint and the step checkpoint. */
interface JobItem extends Omit<Job, 'startedAt'> {
  startedAt?: string | null;
  PK: string;
  SK: string;
  GSI1PK: string;
  GSI1SK: string;
  GSI2PK?: string;
  GSI2SK?: string;
  ttl: number;
  fingerprint: string;
  completedSteps: number;
  agentState?: JsonValue;
  answer?: JsonValue;
  /** Step Functions task token of the wait for input; internal, never shown to clients. */
  inputToken?: string;
  /** The events the last write caused, in order; the events consumer turns them into log items. */
  lastEventTypes: JobEventType[];
  progressData?: JsonValue;
}

const INTERNAL_ATTRIBUTES = [
  'PK',
  'SK',
  'GSI1PK',
  'GSI1SK',
  'GSI2PK',
  'GSI2SK',
  'ttl',
  'fingerprint',
  'completedSteps',
  'agentState',
  'answer',
  INPUT_TOKEN_ATTRIBUTE,
  'lastEventTypes',
  'progressData',
] as const;

function toJob(item: object): Job {
  const job: Record<string, unknown> = { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete job[name];
  job.startedAt ??= null;
  job.inputRequest ??= null;
  // Jobs written before the event log have no counter; their first logged event is then seq 1.
  job.eventSeq ??= 0;
  return job as unknown as Job;
}

/**
 * Every update that causes events advances the job's seq by their number and names them, in the
 * same UpdateExpression: the item's own conditional write is what hands out seqs, so two writers can
 * never take the same one, and the events consumer derives the events from the new image and the
 * old image's seq. The submit's put sets both itself, the workflow's MarkRunning repeats this
 * expression in its ASL, and the one write that causes no event (WaitForInput's task token) leaves
 * them alone.
 */
function announce(...types: JobEventType[]) {
  return {
    update: 'eventSeq = if_not_exists(eventSeq, :noEvents) + :eventCount, lastEventTypes = :eventTypes',
    values: { ':noEvents': 0, ':eventCount': types.length, ':eventTypes': types },
  };
}

/** What every write that ends a step records of it: its progress report and the step count. */
const stepValues = (cp: Omit<Checkpoint, 'state'>) => ({
  ':progress': cp.progress,
  ':data': cp.progressData ?? null,
  ':steps': cp.completedSteps,
});

const EVENT_ATTRIBUTES = 'seq, #type, #at, #data';
const EVENT_NAMES = { '#type': 'type', '#at': 'at', '#data': 'data' };

function statusValues(statuses: JobStatus[]) {
  const names = statuses.map((_, i) => `:from${i}`);
  const values = Object.fromEntries(statuses.map((s, i) => [`:from${i}`, s]));
  return { inList: names.join(', '), values };
}

export const isConditionFailure = (e: unknown): e is ConditionalCheckFailedException =>
  e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException';

/** SDK clients are created once per container (module level), as every handler shares them. */
export const dynamoClient = withoutSdkLogging(new DynamoDBClient({}));
/**
 * How every job store write marshals its items. Frozen, and each document client gets a copy:
 * lib-dynamodb writes its own defaults into the options object it is given.
 */
export const MARSHALL_OPTIONS = Object.freeze({
  removeUndefinedValues: true,
  convertClassInstanceToMap: false,
});
export const documentClient = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { ...MARSHALL_OPTIONS },
});

/** The item a submit writes: the new job with its keys, TTL and fingerprint, in both indexes. */
export function newJobItem(job: Job, fingerprint: string): JobItem {
  // startedAt is absent, not null, until the workflow sets it: MarkRunning's if_not_exists keeps the first start.
  const { startedAt: _notStarted, ...unstarted } = job;
  return {
    ...unstarted,
    PK: jobPk(job.tenant, job.id),
    SK: JOB_SK,
    GSI1PK: tenantPk(job.tenant),
    GSI1SK: listSk(job),
    GSI2PK: liveShard(job.id),
    GSI2SK: listSk(job),
    ttl: toTtl(job.expiresAt),
    fingerprint,
    completedSteps: 0,
    lastEventTypes: ['job.created'],
  };
}

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
    private readonly retention?: RetentionPolicy,
  ) {}

  async create(job: Job, fingerprint: string, now: Date, replayable = false) {
    // A retried request (same Idempotency-Key) is answered by one read and no write at all; a
    // duplicate racing past this read still cannot create a second job: the write is conditional.
    if (replayable) {
      const existing = await this.getItem(job.tenant, job.id);
      if (existing && !isExpired(existing.expiresAt, now)) {
        return { job: toJob(existing), created: false, fingerprint: existing.fingerprint };
      }
    }
    const item = newJobItem(job, fingerprint);
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { job, created: true, fingerprint };
    } catch (e) {
      if (!isConditionFailure(e) || !e.Item) throw e;
      const existing = unmarshallItem(e.Item);
      if (!isExpired(existing.expiresAt, now)) {
        return { job: toJob(existing), created: false, fingerprint: existing.fingerprint };
      }
      return this.replaceExpired(item, existing);
    }
  }

  /**
   * An idempotency key reused after its job expired (TTL deletion lags) starts a new job under
   * the same id. Its execution needs a fresh name: Step Functions keeps names for 90 days.
   */
  private async replaceExpired(item: JobItem, old: JobItem) {
    const oldTtl = old.ttl;
    // The old job's events may outlive it until TTL catches up: the new log continues after them.
    const fresh: JobItem = {
      ...item,
      executionName: `${item.id}-n${Date.now().toString(36)}`,
      eventSeq: (old.eventSeq ?? 0) + 1,
    };
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: fresh,
          ConditionExpression: '#ttl = :oldTtl',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':oldTtl': oldTtl },
        }),
      );
      return { job: toJob(fresh), created: true, fingerprint: fresh.fingerprint };
    } catch (e) {
      if (isConditionFailure(e)) {
        throw new DomainError(
          'idempotency_key_in_use',
          'a request with this Idempotency-Key is being processed',
        );
      }
      throw e;
    }
  }

  private async getItem(tenant: string, id: string): Promise<JobItem | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: jobPk(tenant, id), SK: JOB_SK },
        ConsistentRead: true,
      }),
    );
    return Item as JobItem | undefined;
  }

  async get(tenant: string, id: string, now: Date) {
    const item = await this.getItem(tenant, id);
    if (!item || isExpired(item.expiresAt, now)) return undefined;
    return toJob(item);
  }

  async list(tenant: string, query: ListQuery, now: Date) {
    const jobs: Job[] = [];
    let startKey: Record<string, unknown> | undefined = query.after && {
      GSI1PK: tenantPk(tenant),
      GSI1SK: listSk(query.after),
      PK: jobPk(tenant, query.after.id),
      SK: JOB_SK,
    };
    // Same expiry test as `get` (ISO timestamps order as strings), so the two never disagree.
    const filters = ['expiresAt > :now'];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':pk': tenantPk(tenant), ':now': now.toISOString() };
    if (query.status) {
      filters.push('#status = :status');
      names['#status'] = 'status';
      values[':status'] = query.status;
    }
    for (let page = 0; page < MAX_LIST_PAGES && jobs.length < query.limit; page++) {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: LIST_INDEX,
          KeyConditionExpression: 'GSI1PK = :pk',
          FilterExpression: filters.join(' AND '),
          ExpressionAttributeNames: query.status ? names : undefined,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: query.limit - jobs.length,
          ExclusiveStartKey: startKey,
        }),
      );
      jobs.push(...(out.Items ?? []).map(toJob));
      startKey = out.LastEvaluatedKey;
      if (!startKey) break;
    }
    const next = startKey && positionOf(startKey.GSI1SK as string);
    return { jobs, next };
  }

  async cancel(tenant: string, id: string, now: Date) {
    const at = now.toISOString();
    const expiresAt = terminalExpiry('cancelled', now, this.retention);
    const from = statusValues(sourcesOf('cancelled'));
    const events = announce('job.cancelled');
    const outcome = await this.clientUpdate(tenant, id, now, {
      UpdateExpression:
        `SET #status = :cancelled, completedAt = :at, updatedAt = :at, expiresAt = :exp, #ttl = :ttl, ${events.update} ` +
        `REMOVE agentState, ${INPUT_TOKEN_ATTRIBUTE}, ${LIVE_KEYS}`,
      ConditionExpression: `attribute_exists(PK) AND expiresAt > :now AND #status IN (${from.inList})`,
      ExpressionAttributeNames: { '#status': 'status', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ...from.values,
        ...events.values,
        ':cancelled': 'cancelled',
        ':at': at,
        ':exp': expiresAt.toISOString(),
        ':ttl': toTtl(expiresAt),
        ':now': at,
      },
    });
    if ('job' in outcome) return outcome.job;
    const old = outcome.refused;
    if (old.status === 'cancelled') return toJob(old);
    throw refusal(old, `the job is already ${old.status}`);
  }

  async loadForStep(tenant: string, id: string): Promise<StepSnapshot | undefined> {
    const item = await this.getItem(tenant, id);
    if (!item) return undefined;
    return {
      job: toJob(item),
      state: item.agentState ?? null,
      answer: item.answer,
      completedSteps: item.completedSteps,
    };
  }

  async checkpoint(tenant: string, id: string, cp: Checkpoint, now: Date) {
    const events = announce('job.progress');
    return this.conditionalUpdate(
      tenant,
      id,
      'SET progress = :progress, progressData = :data, completedSteps = :steps, agentState = :state, ' +
        `updatedAt = :at, ${events.update}`,
      {
        ...events.values,
        ...stepValues(cp),
        ':state': cp.state,
        ':at': now.toISOString(),
      },
      cp.completedSteps - 1,
    );
  }

  async succeed(tenant: string, id: string, result: JsonValue, cp: Omit<Checkpoint, 'state'>, now: Date) {
    const expiresAt = terminalExpiry('succeeded', now, this.retention);
    // The last step's progress report and the success are two events of one write.
    const events = announce('job.progress', 'job.succeeded');
    return this.conditionalUpdate(
      tenant,
      id,
      'SET #status = :succeeded, #result = :result, progress = :progress, progressData = :data, ' +
        `completedSteps = :steps, completedAt = :at, updatedAt = :at, expiresAt = :exp, #ttl = :ttl, ${events.update} ` +
        `REMOVE agentState, ${LIVE_KEYS}`,
      {
        ...events.values,
        ':succeeded': 'succeeded',
        ':result': result,
        ...stepValues(cp),
        ':at': now.toISOString(),
        ':exp': expiresAt.toISOString(),
        ':ttl': toTtl(expiresAt),
      },
      cp.completedSteps - 1,
      { '#result': 'result', '#ttl': 'ttl' },
    );
  }

  async requestInput(tenant: string, id: string, cp: Checkpoint, request: InputRequest, now: Date) {
    // The last step's progress and the question are two events of one write.
    const events = announce('job.progress', 'job.input_required');
    return this.conditionalUpdate(
      tenant,
      id,
      'SET #status = :waiting, inputRequest = :request, progress = :progress, progressData = :data, ' +
        `completedSteps = :steps, agentState = :state, updatedAt = :at, ${events.update} REMOVE answer`,
      {
        ...events.values,
        ':waiting': 'input_required',
        ':request': request,
        ...stepValues(cp),
        ':state': cp.state,
        ':at': now.toISOString(),
      },
      cp.completedSteps - 1,
    );
  }

  async submitInput(tenant: string, id: string, answer: JsonValue, now: Date) {
    const at = now.toISOString();
    const events = announce('job.running');
    const outcome = await this.clientUpdate(tenant, id, now, {
      // The token stays in the stream's old image, where the consumer that resumes the execution reads it.
      UpdateExpression:
        `SET #status = :running, answer = :answer, updatedAt = :at, ${events.update} ` +
        `REMOVE inputRequest, ${INPUT_TOKEN_ATTRIBUTE}`,
      ConditionExpression: 'attribute_exists(PK) AND expiresAt > :at AND #status = :waiting',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ...events.values,
        ':running': 'running',
        ':waiting': 'input_required',
        ':answer': answer,
        ':at': at,
      },
    });
    if ('job' in outcome) return outcome.job;
    throw refusal(outcome.refused, `the job is ${outcome.refused.status}, not waiting for input`);
  }

  /**
   * A client's conditional update of a job: the job after it or, when the condition refused it,
   * the job as it stood (returned by the same request, no extra read). Missing or expired is a 404.
   */
  private async clientUpdate(
    tenant: string,
    id: string,
    now: Date,
    update: Pick<
      UpdateCommandInput,
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<{ job: Job } | { refused: JobItem }> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          ...update,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { job: toJob(out.Attributes!) };
    } catch (e) {
      return { refused: rejectedJob(e, now) };
    }
  }

  /** A step's write lands only while the job runs and only once per step (a retried step resumes). */
  private async conditionalUpdate(
    tenant: string,
    id: string,
    update: string,
    values: Record<string, unknown>,
    expectedSteps: number,
    names: Record<string, string> = {},
  ) {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          UpdateExpression: update,
          ConditionExpression: '#status = :running AND completedSteps = :expected',
          ExpressionAttributeNames: { ...names, '#status': 'status' },
          ExpressionAttributeValues: { ...values, ':running': 'running', ':expected': expectedSteps },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async fail(tenant: string, id: string, error: JobError, now: Date, executionName?: string) {
    const expiresAt = terminalExpiry('failed', now, this.retention);
    const from = statusValues(sourcesOf('failed'));
    const events = announce('job.failed');
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          UpdateExpression:
            'SET #status = :failed, #error = :error, completedAt = :at, updatedAt = :at, expiresAt = :exp, ' +
            `#ttl = :ttl, ${events.update} REMOVE agentState, ${INPUT_TOKEN_ATTRIBUTE}, ${LIVE_KEYS}`,
          ConditionExpression:
            executionName === undefined
              ? `#status IN (${from.inList})`
              : `#status IN (${from.inList}) AND executionName = :execution`,
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ...from.values,
            ...events.values,
            ':failed': 'failed',
            ':error': error,
            ':at': now.toISOString(),
            ':exp': expiresAt.toISOString(),
            ':ttl': toTtl(expiresAt),
            ...(executionName === undefined ? {} : { ':execution': executionName }),
          },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async redrive(tenant: string, id: string, now: Date) {
    const job = await this.get(tenant, id, now);
    if (!job) throw new NotFoundError();
    if (!canRedrive(job.status)) {
      throw new DomainError(
        'invalid_transition',
        `only a failed job can be redriven; this one is ${job.status}`,
      );
    }
    const attempt = job.attempt + 1;
    const expiresAt = liveExpiry(now, job.timeoutSeconds, this.retention);
    const events = announce('job.redriven');
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          // A fresh run: the deadline counts from its own start, steps from zero; the log keeps the history.
          UpdateExpression:
            'SET #status = :pending, attempt = :attempt, executionName = :execution, progress = :progress, ' +
            'completedSteps = :zero, #error = :null, #result = :null, inputRequest = :null, completedAt = :null, ' +
            'updatedAt = :at, expiresAt = :exp, #ttl = :ttl, GSI2PK = :shard, GSI2SK = :liveSort, ' +
            `${events.update} REMOVE startedAt, agentState, answer, progressData, ${INPUT_TOKEN_ATTRIBUTE}`,
          // The attempt read above must still be current: two operators cannot both redrive it.
          ConditionExpression: '#status = :failed AND attempt = :previous',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#error': 'error',
            '#result': 'result',
            '#ttl': 'ttl',
          },
          ExpressionAttributeValues: {
            ...events.values,
            ':pending': 'pending',
            ':failed': 'failed',
            ':attempt': attempt,
            ':previous': job.attempt,
            ':execution': redriveExecutionName(id, attempt),
            ':progress': { fraction: 0, step: 0, message: null },
            ':zero': 0,
            ':null': null,
            ':at': now.toISOString(),
            ':exp': expiresAt.toISOString(),
            ':ttl': toTtl(expiresAt),
            ':shard': liveShard(id),
            ':liveSort': listSk(job),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toJob(out.Attributes!);
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      throw new DomainError('invalid_transition', 'the job changed while it was being redriven; try again');
    }
  }

  async listEvents(tenant: string, id: string, query: EventQuery) {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
        FilterExpression: '#at >= :since',
        ProjectionExpression: EVENT_ATTRIBUTES,
        ExpressionAttributeNames: EVENT_NAMES,
        ExpressionAttributeValues: {
          ':pk': jobPk(tenant, id),
          // BETWEEN is inclusive: start right after the reader's last seq.
          ':from': eventSk(query.after + 1),
          ':to': `${EVENT_SK_PREFIX}\uffff`,
          ':since': query.since,
        },
        Limit: query.limit,
        ConsistentRead: true,
      }),
    );
    const events = (out.Items ?? []).map(({ seq, type, at, data }) => ({ seq, type, at, data }) as JobEvent);
    const next = out.LastEvaluatedKey && seqOf(out.LastEvaluatedKey.SK as string);
    return { events, next };
  }

  async putEvent(tenant: string, id: string, event: JobEvent, ttl: number) {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { PK: jobPk(tenant, id), SK: eventSk(event.seq), ...event, ttl },
          ConditionExpression: 'attribute_not_exists(SK)',
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async tenantForKey(keyHash: string) {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keyPk(keyHash), SK: KEY_SK },
        ProjectionExpression: 'tenant',
      }),
    );
    return Item?.tenant as string | undefined;
  }

  async putApiKey(keyHash: string, tenant: string) {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { PK: keyPk(keyHash), SK: KEY_SK, tenant, createdAt: new Date().toISOString() },
      }),
    );
  }

  async listLive(before: string): Promise<LiveJob[]> {
    const items = await querySweepIndex(this.client, this.tableName, LIVE_SHARD_PREFIX, before);
    return items.map((i) => ({
      tenant: i.tenant,
      jobId: i.id,
      pk: i.PK,
      status: i.status,
      executionName: i.executionName,
      createdAt: i.createdAt,
    }));
  }
}

/**
 * Every item of the sparse GSI2 under one kind of partition (`LIVE#` jobs, `DLV#` deliveries),
 * across its shards, whose sort key is before `before`.
 */
export async function querySweepIndex(
  client: DynamoDBDocumentClient,
  tableName: string,
  partitionPrefix: string,
  before: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- index items are read field by field
): Promise<Record<string, any>[]> {
  const shards = Array.from({ length: LIVE_SHARDS }, (_, i) => `${partitionPrefix}${i}`);
  const pages = await Promise.all(
    shards.map(async (shard) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
      const found: Record<string, any>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const out = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: TABLE_KEYS.liveIndex,
            KeyConditionExpression: 'GSI2PK = :shard AND GSI2SK < :before',
            ExpressionAttributeValues: { ':shard': shard, ':before': before },
            ExclusiveStartKey: startKey,
          }),
        );
        found.push(...(out.Items ?? []));
        startKey = out.LastEvaluatedKey;
      } while (startKey);
      return found;
    }),
  );
  return pages.flat();
}

/** The job a conditional update was refused for, as it stood; a missing or expired one is a 404. */
function rejectedJob(e: unknown, now: Date): JobItem {
  if (!isConditionFailure(e)) throw e;
  const old = e.Item && unmarshallItem(e.Item);
  if (!old || isExpired(old.expiresAt, now)) throw new NotFoundError();
  return old;
}

const refusal = (old: JobItem, message: string) =>
  new DomainError(isTerminal(old.status) ? 'job_terminal' : 'invalid_transition', message);

/** The document client leaves the item of a failed condition in wire format. */
const unmarshallItem = (item: NonNullable<ConditionalCheckFailedException['Item']>) =>
  unmarshall(item) as JobItem;

const seqOf = (sortKey: string) => Number(sortKey.slice(EVENT_SK_PREFIX.length));

/**
 * A job item's stream images as the write they record, or undefined for any other item (API keys,
 * events) and for items written before the event log existed. `ttl` is the job's at that write.
 */
export function committedWrite(
  newImage: Record<string, unknown> | undefined,
  oldImage: Record<string, unknown> | undefined,
): { write: CommittedWrite; tenant: string; id: string; ttl: number } | undefined {
  if (!newImage || newImage.SK !== JOB_SK) return undefined;
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
    },
  };
}

function positionOf(sortKey: string): ListPosition {
  const cut = sortKey.lastIndexOf('#');
  return { createdAt: sortKey.slice(0, cut), id: sortKey.slice(cut + 1) };
}

/** The store every handler uses, on the table and with the retention its function was given. */
export function jobStoreFromEnv(env: NodeJS.ProcessEnv = process.env): DynamoJobStore {
  return new DynamoJobStore(requireEnv(ENV.tableName, env), documentClient, {
    ...DEFAULT_RETENTION,
    succeededDays: optionalDays(ENV.retentionSucceededDays, DEFAULT_RETENTION.succeededDays, env),
    failedDays: optionalDays(ENV.retentionFailedDays, DEFAULT_RETENTION.failedDays, env),
  });
}
