import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENV, requireEnv } from '../config/env.js';
import { JOB_SK, jobPk, SLOTS_INDEX_PARTITION, TABLE_KEYS, TENANCY_KEYS } from '../config/table.js';
import { QuotaExceededError } from '../domain/errors.js';
import type { JobStatus } from '../domain/job.js';
import { isExpired } from '../domain/retention.js';
import { freeSlots, leaseFor, queueRetryAfterSeconds, type SlotLease } from '../domain/job-slots.js';
import { documentClient, isConditionFailure } from './dynamo-table.js';

const { partition: PK, sort: SK } = TABLE_KEYS;

export const slotsKey = (tenant: string) => ({ [PK]: `${TENANCY_KEYS.slots}${tenant}`, [SK]: 'SLOTS' });
const queuePk = (tenant: string) => `${TENANCY_KEYS.queue}${tenant}`;
export const queueKey = (tenant: string, jobId: string) => ({ [PK]: queuePk(tenant), [SK]: jobId });

/** What a job's queue entry carries: enough to admit and start it without reading the job. */
export interface QueuedJob {
  tenant: string;
  id: string;
  executionName: string;
  timeoutSeconds: number;
}

/** A tenant's slots item as read: holders by job id, and the count of queued jobs. */
export interface TenantSlots {
  running: number;
  queued: number;
  holders: Record<string, SlotLease>;
}

/** What one admission pass did: jobs it admitted, and the holders as it last read them. */
export interface Admission {
  admitted: QueuedJob[];
  holders: Record<string, SlotLease>;
}

/** One item of a TransactWriteItems request, as the document client takes it. */
export type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

/** Why a transaction was cancelled, per item in request order (`None` for an item that passed). */
export function cancellation(
  e: unknown,
): { codes: string[]; items: (Record<string, unknown> | undefined)[] } | undefined {
  if (!(e instanceof Error) || e.name !== 'TransactionCanceledException') return undefined;
  const reasons = (e as { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] })
    .CancellationReasons;
  return {
    codes: (reasons ?? []).map((r) => r.Code ?? 'None'),
    items: (reasons ?? []).map((r) => (r.Item ? unmarshall(r.Item) : undefined)),
  };
}

const isConflict = (e: unknown) =>
  e instanceof Error &&
  (e.name === 'TransactionConflictException' ||
    (cancellation(e)?.codes.includes('TransactionConflict') ?? false));

/** Another transaction held one of the items: a short random pause, then the caller tries again. */
const CONFLICT_RETRIES = 8;
/** Bound on one admission pass, so a misbehaving table cannot keep a stream batch busy. */
const MAX_ADMIT_ROUNDS = 50;
/** Jobs admitted by one transaction at most: each takes two of its items, the slots item one more. */
const MAX_ADMIT_AT_ONCE = 25;
/** Slots given back by one write at most: its condition names each (4 KB bounds an expression). */
const MAX_RELEASE_AT_ONCE = 50;
const conflictPause = (attempt: number) => sleep(Math.random() * 20 * 2 ** Math.min(attempt, 4));

/**
 * A write retried while a transaction holds its item: a tenant's slots item is shared by its
 * submits, its admissions and its releases, and DynamoDB refuses even a plain write to an item
 * that a transaction in flight holds (TransactionConflictException, which the SDK does not retry).
 */
async function retryingConflicts(write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (e) {
      if (!isConflict(e) || attempt >= CONFLICT_RETRIES) throw e;
      await conflictPause(attempt);
    }
  }
}

/** A transaction retried while another one holds its items. */
export const sendTransaction = (client: DynamoDBDocumentClient, items: TransactItem[]): Promise<void> =>
  retryingConflicts(() => client.send(new TransactWriteCommand({ TransactItems: items })));

const slotsOf = (item: Record<string, unknown> | undefined): TenantSlots => ({
  running: (item?.running as number | undefined) ?? 0,
  queued: (item?.queued as number | undefined) ?? 0,
  holders: (item?.holders as Record<string, SlotLease> | undefined) ?? {},
});

/**
 * Running-job slots and the queue of each tenant, in the jobs table. The slots item
 * (`SLOTS#<tenant>`) counts running and queued jobs and maps each slot holder to its lease; the
 * queue is one item per waiting job under `QUEUE#<tenant>`, sorted by job id (time-ordered), so
 * the head of the queue is one consistent Query that never touches finished jobs.
 */
export class DynamoJobSlots {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /**
   * The two items a submit adds to the job's own transaction: the job's queue entry, and the
   * tenant's queued count moved on under the `maxQueuedJobs` condition (ALL_OLD on refusal gives
   * the holders for the Retry-After estimate). Nothing is read first.
   */
  submitItems(job: QueuedJob, maxQueuedJobs: number): TransactItem[] {
    return [
      { Put: this.queuePut(job) },
      {
        Update: {
          TableName: this.tableName,
          Key: slotsKey(job.tenant),
          UpdateExpression: `${this.slotsInit} ADD queued :one`,
          ConditionExpression: 'attribute_not_exists(queued) OR queued < :max',
          ExpressionAttributeNames: this.slotsNames,
          ExpressionAttributeValues: { ...this.slotsValues(job.tenant), ':one': 1, ':max': maxQueuedJobs },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ];
  }

  /**
   * The answer to a submit transaction refused by its queued-count condition (the items of
   * `submitItems` at `offset`), or undefined when something else refused it.
   */
  submitRefusal(
    e: unknown,
    offset: number,
    maxQueuedJobs: number,
    now: number,
  ): QuotaExceededError | undefined {
    const why = cancellation(e);
    // A refusal by the job's own items (a racing duplicate's key) is answered as such, not as a full queue.
    if (why?.codes[offset + 1] !== 'ConditionalCheckFailed') return undefined;
    if (why.codes.slice(0, offset).some((code) => code !== 'None')) return undefined;
    const leases = Object.values(slotsOf(why.items[offset + 1]).holders);
    return new QuotaExceededError(
      `the tenant already has ${maxQueuedJobs} queued jobs (maxQueuedJobs); retry after the Retry-After seconds`,
      queueRetryAfterSeconds(leases, now),
    );
  }

  /**
   * Queues a job that is pending without a queue entry or a slot (a redriven job, or one whose
   * entry was lost). Not bounded by `maxQueuedJobs`: the job was accepted already. False when it
   * is queued or holds a slot already (a redelivered stream record).
   */
  async enqueue(job: QueuedJob): Promise<boolean> {
    try {
      await this.transact([
        { Put: this.queuePut(job) },
        {
          Update: {
            TableName: this.tableName,
            Key: slotsKey(job.tenant),
            UpdateExpression: `${this.slotsInit} ADD queued :one`,
            ConditionExpression: 'attribute_not_exists(holders.#job)',
            ExpressionAttributeNames: { ...this.slotsNames, '#job': job.id },
            ExpressionAttributeValues: { ...this.slotsValues(job.tenant), ':one': 1 },
          },
        },
      ]);
      return true;
    } catch (e) {
      if (cancellation(e)?.codes.includes('ConditionalCheckFailed')) return false;
      throw e;
    }
  }

  /**
   * Admits queued jobs of the tenant in submit order while it has free slots: the head of the
   * queue in one transaction when it can (takeAll), else one job a transaction (slot taken under
   * `running < max`, queue entry removed, job still pending under the same execution), so racing
   * admitters never over-admit or admit a job twice.
   * `waiting` names jobs the caller knows were queued (its stream records). When the slots item
   * counts exactly that many queued, they are the whole queue (every entry is counted by the
   * transaction that adds or removes it), so they are admitted without querying for the head,
   * under `queued = n` in case the queue changed since the read.
   * Returns the admitted jobs, whose executions the caller starts, and the slot holders as last
   * read (so a caller learns whether a job was admitted earlier without another read).
   */
  async admit(
    tenant: string,
    maxRunningJobs: number,
    now: number,
    waiting: QueuedJob[] = [],
  ): Promise<Admission> {
    const known = [...new Map(waiting.map((job) => [job.id, job])).values()].sort((a, b) =>
      a.id < b.id ? -1 : 1,
    );
    const admitted: QueuedJob[] = [];
    let holders: Record<string, SlotLease> = {};
    let conflicts = 0;
    // Every round admits or drops a queue entry, or counts a conflict.
    for (let round = 0; round < MAX_ADMIT_ROUNDS && conflicts < CONFLICT_RETRIES; round++) {
      const slots = await this.read(tenant);
      holders = slots.holders;
      const free = freeSlots(slots.running, maxRunningJobs);
      if (free === 0 || slots.queued <= 0) break;
      const wholeQueue =
        round === 0 && known.length === slots.queued && known.length <= Math.min(free, MAX_ADMIT_AT_ONCE);
      const head = wholeQueue ? known : await this.head(tenant, Math.min(free, MAX_ADMIT_AT_ONCE));
      if (head.length === 0) break;
      if (head.length > 1 || wholeQueue) {
        const outcome = await this.takeAll(head, maxRunningJobs, now, wholeQueue);
        if (outcome === 'admitted') {
          admitted.push(...head);
          // The head filled the free slots, or the queue held no more than it: a job queued since
          // is admitted by its own record's pass.
          if (head.length === free || head.length < MAX_ADMIT_AT_ONCE) break;
          continue;
        }
        if (outcome === 'conflict') {
          await conflictPause(conflicts++);
          continue;
        }
        // The queue changed since the read: read it again.
        if (wholeQueue) continue;
        // Refused: one job at a time below finds which entry was taken or dropped, or that the slots filled.
      }
      for (const job of head) {
        const outcome = await this.take(job, maxRunningJobs, now);
        // Taken: another admitter of this tenant (the sweep, or a consumer batch) is at work on the
        // same head, and it reads again after each admission until the slots are full or the queue
        // is empty; following it down the queue would only fail transaction after transaction.
        if (outcome === 'full' || outcome === 'taken') return { admitted, holders };
        if (outcome === 'admitted') admitted.push(job);
        if (outcome === 'conflict') {
          await conflictPause(conflicts++);
          break;
        }
      }
    }
    return { admitted, holders };
  }

  private async take(
    job: QueuedJob,
    max: number,
    now: number,
  ): Promise<'admitted' | 'taken' | 'dropped' | 'full' | 'conflict'> {
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: this.admission([job], max, now) }));
      return 'admitted';
    } catch (e) {
      if (isConflict(e)) return 'conflict';
      const codes = cancellation(e)?.codes;
      if (!codes) throw e;
      if (codes[1] === 'ConditionalCheckFailed') return 'taken';
      if (codes[2] === 'ConditionalCheckFailed') {
        // The entry names a job that no longer waits (cancelled, or its attempt superseded): drop it.
        await this.dequeue(job.tenant, job.id);
        return 'dropped';
      }
      return 'full';
    }
  }

  /** The jobs admitted in one transaction; refused as a whole when any part no longer holds. */
  private async takeAll(
    jobs: QueuedJob[],
    max: number,
    now: number,
    wholeQueue: boolean,
  ): Promise<'admitted' | 'refused' | 'conflict'> {
    try {
      await this.client.send(
        new TransactWriteCommand({ TransactItems: this.admission(jobs, max, now, wholeQueue) }),
      );
      return 'admitted';
    } catch (e) {
      if (isConflict(e)) return 'conflict';
      if (!cancellation(e)) throw e;
      return 'refused';
    }
  }

  /**
   * The jobs' slots taken together under `running <= max - n` (for one job, `running < max`), and
   * with `wholeQueue` under `queued = n`; then for each job its queue entry removed and a check
   * that it is still pending as queued.
   */
  private admission(jobs: QueuedJob[], max: number, now: number, wholeQueue = false): TransactItem[] {
    const slots: TransactItem = {
      Update: {
        TableName: this.tableName,
        Key: slotsKey(jobs[0]!.tenant),
        UpdateExpression: `SET ${jobs.map((_, i) => `holders.#job${i} = :lease${i}`).join(', ')}, running = running + :n, queued = queued - :n`,
        ConditionExpression: [
          'running <= :limit',
          ...(wholeQueue ? ['queued = :n'] : []),
          ...jobs.map((_, i) => `attribute_not_exists(holders.#job${i})`),
        ].join(' AND '),
        ExpressionAttributeNames: Object.fromEntries(jobs.map((job, i) => [`#job${i}`, job.id])),
        ExpressionAttributeValues: {
          ...Object.fromEntries(jobs.map((job, i) => [`:lease${i}`, leaseFor(now, job.timeoutSeconds)])),
          ':n': jobs.length,
          ':limit': max - jobs.length,
        },
      },
    };
    return [slots, ...jobs.flatMap((job) => this.entryTaken(job))];
  }

  /** A job's queue entry removed, on condition that the job is still pending under the same execution. */
  private entryTaken(job: QueuedJob): TransactItem[] {
    return [
      {
        Delete: {
          TableName: this.tableName,
          Key: queueKey(job.tenant, job.id),
          ConditionExpression: `attribute_exists(${PK})`,
        },
      },
      {
        ConditionCheck: {
          TableName: this.tableName,
          Key: { [PK]: jobPk(job.tenant, job.id), [SK]: JOB_SK },
          ConditionExpression: '#status = :pending AND executionName = :execution',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'pending', ':execution': job.executionName },
        },
      },
    ];
  }

  /**
   * Gives back what a finished job had: its slot or, when it ended while still queued (cancelled),
   * its queue entry. Idempotent: a second release finds neither and changes nothing.
   */
  async release(tenant: string, jobId: string): Promise<'slot' | 'queue' | 'none'> {
    if (await this.releaseSlot(tenant, jobId)) return 'slot';
    return (await this.dequeue(tenant, jobId)) ? 'queue' : 'none';
  }

  /**
   * Gives back what each of these finished jobs had. Their slots in one write when every one of
   * them holds one (a tenant's jobs ending together cost one write, not one each); otherwise each
   * is released on its own, as `release` does. Returns each job's outcome, in the given order.
   */
  async releaseAll(tenant: string, jobIds: string[]): Promise<Array<'slot' | 'queue' | 'none'>> {
    const ids = [...new Set(jobIds)];
    const outcomes = new Map<string, 'slot' | 'queue' | 'none'>();
    for (let i = 0; i < ids.length; i += MAX_RELEASE_AT_ONCE) {
      const together = ids.slice(i, i + MAX_RELEASE_AT_ONCE);
      if (together.length > 1 && (await this.releaseSlots(tenant, together))) {
        for (const id of together) outcomes.set(id, 'slot');
        continue;
      }
      for (const id of together) outcomes.set(id, await this.release(tenant, id));
    }
    return jobIds.map((id) => outcomes.get(id)!);
  }

  async releaseSlot(tenant: string, jobId: string): Promise<boolean> {
    return this.releaseSlots(tenant, [jobId]);
  }

  /** The jobs' slots given back together; false, changing nothing, when any of them holds none. */
  private async releaseSlots(tenant: string, jobIds: string[]): Promise<boolean> {
    const names = jobIds.map((_, i) => `holders.#job${i}`);
    try {
      await retryingConflicts(() =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: slotsKey(tenant),
            UpdateExpression: `REMOVE ${names.join(', ')} SET running = running - :n`,
            ConditionExpression: names.map((name) => `attribute_exists(${name})`).join(' AND '),
            ExpressionAttributeNames: Object.fromEntries(jobIds.map((id, i) => [`#job${i}`, id])),
            ExpressionAttributeValues: { ':n': jobIds.length },
          }),
        ),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  private async dequeue(tenant: string, jobId: string): Promise<boolean> {
    try {
      await this.transact([
        {
          Delete: {
            TableName: this.tableName,
            Key: queueKey(tenant, jobId),
            ConditionExpression: `attribute_exists(${PK})`,
          },
        },
        {
          Update: {
            TableName: this.tableName,
            Key: slotsKey(tenant),
            UpdateExpression: 'SET queued = queued - :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ]);
      return true;
    } catch (e) {
      if (cancellation(e)?.codes[0] === 'ConditionalCheckFailed') return false;
      throw e;
    }
  }

  /** The tenant's slots item, read consistently (empty for a tenant that never submitted). */
  async read(tenant: string): Promise<TenantSlots> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: slotsKey(tenant), ConsistentRead: true }),
    );
    return slotsOf(Item);
  }

  /** Where the job stands in its tenant's queue, 1-based; undefined when it is not queued. */
  async position(tenant: string, jobId: string): Promise<number | undefined> {
    let ahead = 0;
    let startKey: Record<string, unknown> | undefined;
    let last: string | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `${PK} = :pk AND ${SK} <= :id`,
          ExpressionAttributeValues: { ':pk': queuePk(tenant), ':id': jobId },
          ProjectionExpression: SK,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      const items = out.Items ?? [];
      ahead += items.length;
      last = (items.at(-1)?.[SK] as string | undefined) ?? last;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return last === jobId ? ahead : undefined;
  }

  /** A slot holder's status as its job item says (undefined when the job is gone or expired). */
  async holderStatus(tenant: string, jobId: string, now: Date): Promise<{ status: JobStatus } | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: jobPk(tenant, jobId), [SK]: JOB_SK },
        ProjectionExpression: '#status, expiresAt',
        ExpressionAttributeNames: { '#status': 'status' },
        ConsistentRead: true,
      }),
    );
    if (!Item || isExpired(Item.expiresAt as string, now)) return undefined;
    return { status: Item.status as JobStatus };
  }

  /** Whether the job has a queue entry. */
  async isQueued(tenant: string, jobId: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: queueKey(tenant, jobId), ConsistentRead: true }),
    );
    return Item !== undefined;
  }

  /** The first `limit` queued jobs of the tenant, oldest first. */
  private async head(tenant: string, limit: number): Promise<QueuedJob[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: `${PK} = :pk`,
        ExpressionAttributeValues: { ':pk': queuePk(tenant) },
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((i) => ({
      tenant,
      id: i[SK] as string,
      executionName: i.executionName as string,
      timeoutSeconds: i.timeoutSeconds as number,
    }));
  }

  /** Tenants with a slots item: those the sweep checks for leaked slots and stalled queues. */
  async tenants(): Promise<string[]> {
    const tenants: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE_KEYS.liveIndex,
          KeyConditionExpression: `${TABLE_KEYS.livePartition} = :pk`,
          ExpressionAttributeValues: { ':pk': SLOTS_INDEX_PARTITION },
          ExclusiveStartKey: startKey,
        }),
      );
      tenants.push(...(out.Items ?? []).map((i) => i.tenant as string));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return tenants;
  }

  private queuePut(job: QueuedJob) {
    return {
      TableName: this.tableName,
      Item: {
        ...queueKey(job.tenant, job.id),
        executionName: job.executionName,
        timeoutSeconds: job.timeoutSeconds,
      },
      ConditionExpression: `attribute_not_exists(${PK})`,
    };
  }

  /** The slots item is created by the first write that needs it, with its index keys and empty holders. */
  private readonly slotsInit =
    'SET tenant = :tenant, holders = if_not_exists(holders, :none), running = if_not_exists(running, :zero), ' +
    '#livePk = :slotsPartition, #liveSk = :tenant';

  private readonly slotsNames = { '#livePk': TABLE_KEYS.livePartition, '#liveSk': TABLE_KEYS.liveSort };

  private slotsValues(tenant: string) {
    return { ':tenant': tenant, ':none': {}, ':zero': 0, ':slotsPartition': SLOTS_INDEX_PARTITION };
  }

  private transact(items: TransactItem[]): Promise<void> {
    return sendTransaction(this.client, items);
  }
}

export const jobSlotsFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoJobSlots(requireEnv(ENV.tableName, env));
