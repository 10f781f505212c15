import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ENV, optionalDays, requireEnv } from '../config/env.js';
import { JOB_SK, TABLE_KEYS } from '../config/table.js';
import type { ListPosition } from '../domain/cursor.js';
import { DomainError, NotFoundError } from '../domain/errors.js';
import type { Job, JobError, JobStatus, JsonValue } from '../domain/job.js';
import { isTerminal, sourcesOf } from '../domain/job.js';
import type { Checkpoint, JobStore, ListQuery, StepSnapshot, UnfinishedJob } from '../domain/job-store.js';
import type { RetentionPolicy } from '../domain/retention.js';
import { DEFAULT_RETENTION, isExpired, terminalExpiry, toTtl } from '../domain/retention.js';

export { JOB_SK };
export const LIST_INDEX = TABLE_KEYS.listIndex;
const KEY_SK = 'KEY';
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
  ttl: number;
  fingerprint: string;
  completedSteps: number;
  agentState?: JsonValue;
  answer?: JsonValue;
}

const INTERNAL_ATTRIBUTES = [
  'PK',
  'SK',
  'GSI1PK',
  'GSI1SK',
  'ttl',
  'fingerprint',
  'completedSteps',
  'agentState',
  'answer',
] as const;

function toJob(item: object): Job {
  const job: Record<string, unknown> = { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete job[name];
  job.startedAt ??= null;
  return job as unknown as Job;
}

function statusValues(statuses: JobStatus[]) {
  const names = statuses.map((_, i) => `:from${i}`);
  const values = Object.fromEntries(statuses.map((s, i) => [`:from${i}`, s]));
  return { inList: names.join(', '), values };
}

const isConditionFailure = (e: unknown): e is ConditionalCheckFailedException =>
  e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException';

/** SDK clients are created once per container (module level), as every handler shares them. */
export const dynamoClient = new DynamoDBClient({});
const defaultClient = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
});

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = defaultClient,
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
    // startedAt is absent, not null, until the workflow sets it: MarkRunning's if_not_exists keeps the first start.
    const { startedAt: _notStarted, ...unstarted } = job;
    const item: JobItem = {
      ...unstarted,
      PK: jobPk(job.tenant, job.id),
      SK: JOB_SK,
      GSI1PK: tenantPk(job.tenant),
      GSI1SK: listSk(job),
      ttl: toTtl(job.expiresAt),
      fingerprint,
      completedSteps: 0,
    };
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
      return this.replaceExpired(item, existing.ttl);
    }
  }

  /**
   * An idempotency key reused after its job expired (TTL deletion lags) starts a new job under
   * the same id. Its execution needs a fresh name: Step Functions keeps names for 90 days.
   */
  private async replaceExpired(item: JobItem, oldTtl: number) {
    const fresh: JobItem = { ...item, executionName: `${item.id}-n${Date.now().toString(36)}` };
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
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          UpdateExpression:
            'SET #status = :cancelled, completedAt = :at, updatedAt = :at, expiresAt = :exp, #ttl = :ttl REMOVE agentState',
          ConditionExpression: `attribute_exists(PK) AND expiresAt > :now AND #status IN (${from.inList})`,
          ExpressionAttributeNames: { '#status': 'status', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ...from.values,
            ':cancelled': 'cancelled',
            ':at': at,
            ':exp': expiresAt.toISOString(),
            ':ttl': toTtl(expiresAt),
            ':now': at,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return toJob(out.Attributes ?? {});
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const old = e.Item && unmarshallItem(e.Item);
      if (!old || isExpired(old.expiresAt, now)) throw new NotFoundError();
      if (old.status === 'cancelled') return toJob(old);
      throw new DomainError(
        isTerminal(old.status) ? 'job_terminal' : 'invalid_transition',
        `the job is already ${old.status}`,
      );
    }
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
    return this.conditionalUpdate(
      tenant,
      id,
      'SET progress = :progress, completedSteps = :steps, agentState = :state, updatedAt = :at',
      { ':progress': cp.progress, ':steps': cp.completedSteps, ':state': cp.state, ':at': now.toISOString() },
      cp.completedSteps - 1,
    );
  }

  async succeed(tenant: string, id: string, result: JsonValue, cp: Omit<Checkpoint, 'state'>, now: Date) {
    const expiresAt = terminalExpiry('succeeded', now, this.retention);
    return this.conditionalUpdate(
      tenant,
      id,
      'SET #status = :succeeded, #result = :result, progress = :progress, completedSteps = :steps, ' +
        'completedAt = :at, updatedAt = :at, expiresAt = :exp, #ttl = :ttl REMOVE agentState',
      {
        ':succeeded': 'succeeded',
        ':result': result,
        ':progress': cp.progress,
        ':steps': cp.completedSteps,
        ':at': now.toISOString(),
        ':exp': expiresAt.toISOString(),
        ':ttl': toTtl(expiresAt),
      },
      cp.completedSteps - 1,
      { '#result': 'result', '#ttl': 'ttl' },
    );
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

  async fail(tenant: string, id: string, error: JobError, now: Date) {
    const expiresAt = terminalExpiry('failed', now, this.retention);
    const from = statusValues(sourcesOf('failed'));
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: jobPk(tenant, id), SK: JOB_SK },
          UpdateExpression:
            'SET #status = :failed, #error = :error, completedAt = :at, updatedAt = :at, expiresAt = :exp, #ttl = :ttl REMOVE agentState',
          ConditionExpression: `#status IN (${from.inList})`,
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ...from.values,
            ':failed': 'failed',
            ':error': error,
            ':at': now.toISOString(),
            ':exp': expiresAt.toISOString(),
            ':ttl': toTtl(expiresAt),
          },
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

  /** Every job not yet finished, across tenants. A Scan: for the local stack's restart recovery only. */
  async listUnfinished() {
    const live = statusValues(['pending', 'running', 'input_required']);
    const found: UnfinishedJob[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: `SK = :job AND #status IN (${live.inList})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ...live.values, ':job': JOB_SK },
          ProjectionExpression: 'PK, tenant, id, executionName',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const i of out.Items ?? []) {
        found.push({ tenant: i.tenant, jobId: i.id, pk: i.PK, executionName: i.executionName });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}

/** The document client leaves the item of a failed condition in wire format. */
const unmarshallItem = (item: NonNullable<ConditionalCheckFailedException['Item']>) =>
  unmarshall(item) as JobItem;

function positionOf(sortKey: string): ListPosition {
  const cut = sortKey.lastIndexOf('#');
  return { createdAt: sortKey.slice(0, cut), id: sortKey.slice(cut + 1) };
}

/** The store every handler uses, on the table and with the retention its function was given. */
export function jobStoreFromEnv(env: NodeJS.ProcessEnv = process.env): DynamoJobStore {
  return new DynamoJobStore(requireEnv(ENV.tableName, env), defaultClient, {
    ...DEFAULT_RETENTION,
    succeededDays: optionalDays(ENV.retentionSucceededDays, DEFAULT_RETENTION.succeededDays, env),
    failedDays: optionalDays(ENV.retentionFailedDays, DEFAULT_RETENTION.failedDays, env),
  });
}
