import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
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
import type { CommittedWrite, JobEvent, JobEventType, StepEvent } from '../domain/job-events.js';
import type {
  Checkpoint,
  EventQuery,
  JobStore,
  ListQuery,
  LiveJob,
  StepSnapshot,
  SweepCursor,
} from '../domain/job-store.js';
import type { RetentionPolicy } from '../domain/retention.js';
import {
  DEFAULT_RETENTION,
  isExpired,
  liveExpiry,
  logExpiry,
  terminalExpiry,
  toTtl,
} from '../domain/retention.js';
import { withoutSdkLogging } from './sdk-clients.js';

export { JOB_SK };
export const LIST_INDEX = TABLE_KEYS.listIndex;
const KEY_SK = 'KEY';
/** An Idempotency-Key's item: which job the key created. */
const IDEMPOTENCY_SK = 'IDEMPOTENCY';
/**
 * What a step's write clears once the wait for input it follows is over: the answered wait's task
 * token and when it was answered (see `answeredWait`).
 */
const RESUMED = `${INPUT_TOKEN_ATTRIBUTE}, answeredAt`;
/** A terminal write takes the job out of the sparse live index. */
const LIVE_KEYS = `${TABLE_KEYS.livePartition}, ${TABLE_KEYS.liveSort}`;
/** Where the sweep stopped reading the live index, so the next run goes on from there. */
const SWEEP_CURSOR_KEY = { PK: 'SWEEP', SK: 'CURSOR' } as const;
const START: SweepCursor = { shard: 0 };
/** How many index pages one list request may read while a status filter skips items. */
const MAX_LIST_PAGES = 5;

export const jobPk = (tenant: string, id: string) => `T#${tenant}#J#${id}`;
const tenantPk = (tenant: string) => `T#${tenant}`;
const listSk = (p: ListPosition) => `${p.createdAt}#${p.id}`;
const keyPk = (hash: string) => `K#${hash}`;
const idempotencyPk = (tenant: string, keyId: string) => `T#${tenant}#I#${keyId}`;

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
  /** When the wait for input was answered; cleared with the token by the next step's write. */
  answeredAt?: string;
  /** The events the last write caused, in order; the events consumer turns them into log items. */
  lastEventTypes: JobEventType[];
  /** The data of the last write's step events (see appendEvents), by position in lastEventTypes. */
  lastEventData?: JsonValue[];
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
  'answeredAt',
  'lastEventTypes',
  'lastEventData',
  'progressData',
] as const;

function toJob(item: object): Job {
  const job: Record<string, unknown> = { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete job[name];
  job.startedAt ??= null;
  job.inputRequest ??= null;
  // Jobs written before the event log have no counter; their first logged event is then seq 1.
  job.eventSeq ??= 0;
  // Jobs stored before agents had versions and usage was kept.
  job.agentVersion ??= null;
  job.usage ??= null;
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

/** What every write that ends a step records of it: its progress report, the step count and usage. */
const stepValues = (cp: Omit<Checkpoint, 'state'>) => ({
  ':progress': cp.progress,
  ':data': cp.progressData ?? null,
  ':steps': cp.completedSteps,
  ':usage': cp.usage ?? null,
});

/** Usage is set by agents that report it and left alone by the others. */
const USAGE_UPDATE = '#usage = if_not_exists(#usage, :usage), ';
const usageUpdate = (cp: Omit<Checkpoint, 'state'>) =>
  cp.usage === undefined ? USAGE_UPDATE : '#usage = :usage, ';
/** `usage` is a DynamoDB reserved word. */
const USAGE_NAME = { '#usage': 'usage' };

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

  async create(job: Job, fingerprint: string, now: Date, idempotencyKeyId?: string) {
    if (idempotencyKeyId !== undefined) return this.createOnce(job, fingerprint, now, idempotencyKeyId);
    const item = newJobItem(job, fingerprint);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        // Ids are random: a clash would be a bug, never a job to hand back.
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    return { job, created: true, fingerprint };
  }

  /**
   * A submit with an Idempotency-Key. The key's item names the job it created; while that job is
   * readable, a retry is answered with it by two reads and no write. Otherwise the key item and the
   * new job are written in one transaction, so neither exists without the other, and the key
   * item's condition lets only one of racing duplicates (or of reuses after expiry) win.
   */
  private async createOnce(job: Job, fingerprint: string, now: Date, keyId: string) {
    const keyItem = await this.getKeyItem(job.tenant, keyId);
    const previous = keyItem && (await this.getItem(job.tenant, keyItem.jobId));
    if (previous && !isExpired(previous.expiresAt, now)) return replayOf(previous);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: this.keyItemPut(job, keyId, keyItem?.jobId) },
            {
              Put: {
                TableName: this.tableName,
                Item: newJobItem(job, fingerprint),
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
          ],
        }),
      );
      return { job, created: true, fingerprint };
    } catch (e) {
      if (!isTransactionRace(e)) throw e;
    }
    // A duplicate won the race: both its items are committed, so its job is there to hand back.
    const winner = await this.getKeyItem(job.tenant, keyId);
    const current = winner && (await this.getItem(job.tenant, winner.jobId));
    if (current && !isExpired(current.expiresAt, now)) return replayOf(current);
    throw new DomainError('idempotency_key_in_use', 'a request with this Idempotency-Key is being processed');
  }

  /**
   * The key item lives as long as its job can (the job's live backstop expiry), and is taken over
   * by a new job only while it still names the expired or deleted one that was read.
   */
  private keyItemPut(job: Job, keyId: string, staleJobId: string | undefined) {
    return {
      TableName: this.tableName,
      Item: {
        PK: idempotencyPk(job.tenant, keyId),
        SK: IDEMPOTENCY_SK,
        jobId: job.id,
        createdAt: job.createdAt,
        ttl: toTtl(job.expiresAt),
      },
      ConditionExpression: staleJobId === undefined ? 'attribute_not_exists(PK)' : 'jobId = :stale',
      ...(staleJobId === undefined ? {} : { ExpressionAttributeValues: { ':stale': staleJobId } }),
    };
  }

  private async getKeyItem(tenant: string, keyId: string): Promise<{ jobId: string } | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: idempotencyPk(tenant, keyId), SK: IDEMPOTENCY_SK },
        ProjectionExpression: 'jobId',
        ConsistentRead: true,
      }),
    );
    return Item as { jobId: string } | undefined;
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
        `REMOVE agentState, ${RESUMED}, ${LIVE_KEYS}`,
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

  async answeredWait(tenant: string, id: string) {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: jobPk(tenant, id), SK: JOB_SK },
        ProjectionExpression: `#status, ${RESUMED}`,
        ExpressionAttributeNames: { '#status': 'status' },
        ConsistentRead: true,
      }),
    );
    const token = Item?.[INPUT_TOKEN_ATTRIBUTE] as string | undefined;
    if (Item?.status !== 'running' || token === undefined || Item.answeredAt === undefined) return undefined;
    return { token, answeredAt: Item.answeredAt as string };
  }

  async checkpoint(tenant: string, id: string, cp: Checkpoint, now: Date) {
    const events = announce('job.progress');
    return this.conditionalUpdate(
      tenant,
      id,
      'SET progress = :progress, progressData = :data, completedSteps = :steps, agentState = :state, ' +
        `${usageUpdate(cp)}updatedAt = :at, ${events.update} REMOVE ${RESUMED}`,
      {
        ...events.values,
        ...stepValues(cp),
        ':state': cp.state,
        ':at': now.toISOString(),
      },
      cp.completedSteps - 1,
      USAGE_NAME,
    );
  }

  async appendEvents(tenant: string, id: string, events: readonly StepEvent[], now: Date) {
    if (events.length === 0) return true;
    const announced = announce(...events.map((e) => e.type));
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          UpdateExpression: `SET lastEventData = :eventData, updatedAt = :at, ${announced.update}`,
          ConditionExpression: '#status = :running',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ...announced.values,
            ':eventData': events.map((e) => e.data),
            ':at': now.toISOString(),
            ':running': 'running',
          },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async succeed(tenant: string, id: string, result: JsonValue, cp: Omit<Checkpoint, 'state'>, now: Date) {
    const expiresAt = terminalExpiry('succeeded', now, this.retention);
    // The last step's progress report and the success are two events of one write.
    const events = announce('job.progress', 'job.succeeded');
    return this.conditionalUpdate(
      tenant,
      id,
      'SET #status = :succeeded, #result = :result, progress = :progress, progressData = :data, ' +
        `completedSteps = :steps, ${usageUpdate(cp)}completedAt = :at, updatedAt = :at, expiresAt = :exp, ` +
        `#ttl = :ttl, ${events.update} ` +
        `REMOVE agentState, ${RESUMED}, ${LIVE_KEYS}`,
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
      { '#result': 'result', '#ttl': 'ttl', ...USAGE_NAME },
    );
  }

  async requestInput(tenant: string, id: string, cp: Checkpoint, request: InputRequest, now: Date) {
    // The last step's progress and the question are two events of one write.
    const events = announce('job.progress', 'job.input_required');
    return this.conditionalUpdate(
      tenant,
      id,
      'SET #status = :waiting, inputRequest = :request, progress = :progress, progressData = :data, ' +
        `completedSteps = :steps, agentState = :state, ${usageUpdate(cp)}updatedAt = :at, ${events.update} ` +
        `REMOVE answer, ${RESUMED}`,
      {
        ...events.values,
        ':waiting': 'input_required',
        ':request': request,
        ...stepValues(cp),
        ':state': cp.state,
        ':at': now.toISOString(),
      },
      cp.completedSteps - 1,
      USAGE_NAME,
    );
  }

  async submitInput(tenant: string, id: string, answer: JsonValue, now: Date) {
    const at = now.toISOString();
    const events = announce('job.running');
    const outcome = await this.clientUpdate(tenant, id, now, {
      // The token stays until the next step's write: until then the table itself says the wait
      // was answered and may still need resuming (the stream consumer does it; the sweep repeats it).
      UpdateExpression:
        `SET #status = :running, answer = :answer, answeredAt = :at, updatedAt = :at, ${events.update} ` +
        'REMOVE inputRequest',
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
            `#ttl = :ttl, ${events.update} REMOVE agentState, ${RESUMED}, ${LIVE_KEYS}`,
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
            `${events.update} REMOVE startedAt, agentState, answer, progressData, ${RESUMED}`,
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

  /** TTL of the event and delivery items a write leaves the job in this state causes. */
  logTtl(job: Job): number {
    return toTtl(logExpiry(job, this.retention));
  }

  /**
   * Gives the job's event and delivery items that would expire before it the job's own TTL: run
   * by the job's terminal write, whose expiry may lie beyond what its live writes assumed.
   * Returns how many it extended (none for a job that ended as those writes assumed).
   */
  async extendLog(tenant: string, id: string, ttl: number): Promise<number> {
    let extended = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk AND SK < :job',
          FilterExpression: '#ttl < :ttl',
          ProjectionExpression: 'PK, SK',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':pk': jobPk(tenant, id), ':job': JOB_SK, ':ttl': ttl },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const key of out.Items ?? []) if (await this.extendItem(key, ttl)) extended++;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return extended;
  }

  private async extendItem(key: Record<string, unknown>, ttl: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: key.PK, SK: key.SK },
          UpdateExpression: 'SET #ttl = :ttl',
          ConditionExpression: 'attribute_exists(SK) AND #ttl < :ttl',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':ttl': ttl },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** The job's last committed write as its item records it, or undefined for a missing job. */
  async latestWrite(tenant: string, id: string) {
    const item = await this.getItem(tenant, id);
    if (!item) return undefined;
    const previousSeq = (item.eventSeq ?? 0) - (item.lastEventTypes?.length ?? 0);
    return committedWrite(item as unknown as Record<string, unknown>, { eventSeq: previousSeq });
  }

  /** Every seq in the job's log, with its time. */
  async loggedEvents(tenant: string, id: string): Promise<Map<number, string>> {
    const logged = new Map<number, string>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :events)',
          ProjectionExpression: 'seq, #at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':pk': jobPk(tenant, id), ':events': EVENT_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const e of out.Items ?? []) logged.set(e.seq as number, e.at as string);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return logged;
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

  async listLivePage(before: string, from: SweepCursor, limit: number) {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_KEYS.liveIndex,
        KeyConditionExpression: 'GSI2PK = :shard AND GSI2SK < :before',
        ExpressionAttributeValues: { ':shard': `${LIVE_SHARD_PREFIX}${from.shard}`, ':before': before },
        ExclusiveStartKey: from.after,
        Limit: limit,
      }),
    );
    const jobs: LiveJob[] = (out.Items ?? []).map((i) => ({
      tenant: i.tenant,
      jobId: i.id,
      pk: i.PK,
      status: i.status,
      executionName: i.executionName,
      createdAt: i.createdAt,
    }));
    const after = out.LastEvaluatedKey as Record<string, string> | undefined;
    let next: SweepCursor | undefined;
    if (after) next = { shard: from.shard, after };
    else if (from.shard + 1 < LIVE_SHARDS) next = { shard: from.shard + 1 };
    return { jobs, next };
  }

  async sweepCursor(): Promise<SweepCursor> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: SWEEP_CURSOR_KEY, ConsistentRead: true }),
    );
    return Item
      ? { shard: Item.shard as number, after: Item.after as Record<string, string> | undefined }
      : START;
  }

  async saveSweepCursor(cursor: SweepCursor) {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...SWEEP_CURSOR_KEY, ...cursor } }),
    );
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

const replayOf = (item: JobItem) => ({ job: toJob(item), created: false, fingerprint: item.fingerprint });

/**
 * A transaction refused because a condition failed (a duplicate committed first) or because a
 * duplicate's transaction held the same item at that moment.
 */
const isTransactionRace = (e: unknown) =>
  e instanceof Error && ['TransactionCanceledException', 'TransactionConflictException'].includes(e.name);

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
      eventData: item.lastEventData ?? null,
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
