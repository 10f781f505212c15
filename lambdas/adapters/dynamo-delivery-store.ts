import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import {
  DELIVERY_SHARD_PREFIX,
  DELIVERY_SK_PREFIX,
  DELIVERY_SWEEP_CURSOR_KEY,
  deliveryShard,
  deliverySk,
  jobPk,
  TABLE_KEYS,
} from '../config/table.js';
import type { Delivery, DeliveryMessage, DeliveryRecord } from '../domain/delivery.js';
import { MAX_KEPT_ATTEMPTS, REPLAY_LIMIT } from '../domain/delivery.js';
import { RateLimitedError } from '../domain/errors.js';
import type { SweepCursor } from '../domain/job-store.js';
import type { DeliveryAttempt, DeliveryStatus } from '../domain/webhook.js';
import {
  conditionalWrite,
  conditionalWriteLanded,
  documentClient,
  querySweepPage,
  readSweepCursor,
  saveSweepCursor,
} from './dynamo-table.js';

const { partition: PK, sort: SK, livePartition: LIVE_PK, liveSort: LIVE_SK } = TABLE_KEYS;
/** Deliveries read at once when every overdue one is listed. */
const OVERDUE_PAGE = 100;

/** A new delivery as the notifier creates it: pending, due now, in round 0. */
export type NewDelivery = Omit<
  DeliveryRecord,
  | 'status'
  | 'attempts'
  | 'attemptCount'
  | 'nextAttemptAt'
  | 'updatedAt'
  | 'round'
  | 'roundAttempts'
  | 'owner'
  | 'leaseUntil'
>;

/** Where an attempt leaves the delivery: delivered, failed for good, or pending until `nextAttemptAt`. */
export type AttemptOutcome =
  { status: Exclude<DeliveryStatus, 'pending'> } | { status: 'pending'; nextAttemptAt: string };

export interface OverdueDelivery extends DeliveryMessage {
  nextAttemptAt: string;
}

interface DeliveryItem extends DeliveryRecord {
  [TABLE_KEYS.partition]: string;
  [TABLE_KEYS.sort]: string;
  [TABLE_KEYS.livePartition]?: string;
  [TABLE_KEYS.liveSort]?: string;
  [TABLE_KEYS.ttl]: number;
  /** Start of the current replay window and the replays made in it (REPLAY_LIMIT). */
  replayWindowStart?: string;
  replaysInWindow?: number;
}

const keyOf = (tenant: string, jobId: string, seq: number) => ({
  [PK]: jobPk(tenant, jobId),
  [SK]: deliverySk(seq),
});
type DeliveryKey = ReturnType<typeof keyOf>;

/** The index attributes that put a pending delivery on the sweep's list, due at `at`. */
const dueIndex = (pk: string, sk: string, at: string) => ({
  [TABLE_KEYS.livePartition]: deliveryShard(pk, sk),
  [TABLE_KEYS.liveSort]: at,
});

/** Table keys and bookkeeping that are not part of the delivery itself. */
const STORAGE_ATTRIBUTES = [
  PK,
  SK,
  LIVE_PK,
  LIVE_SK,
  TABLE_KEYS.ttl,
  'replayWindowStart',
  'replaysInWindow',
] as const;

function toRecord(item: Record<string, unknown>): DeliveryRecord {
  const record = { ...item };
  for (const name of STORAGE_ATTRIBUTES) delete record[name];
  return record as unknown as DeliveryRecord;
}

/**
 * Webhook deliveries, stored in their job's partition (`D#<event seq>`), so they are read together
 * with the job and expire with it. Every scheduling step is one conditional update on the delivery:
 * the conditions, not the queue, decide which message may make which attempt.
 */
export class DynamoDeliveryStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /** Creates the delivery, or returns the one that already exists for that event (a redelivered record). */
  async create(
    d: NewDelivery,
    ttl: number,
  ): Promise<{ created: true; record: DeliveryRecord } | { created: false; record: DeliveryRecord }> {
    const key = keyOf(d.tenant, d.jobId, d.seq);
    const item: DeliveryItem = {
      ...d,
      ...key,
      ...dueIndex(key[PK], key[SK], d.createdAt),
      status: 'pending',
      attempts: [],
      attemptCount: 0,
      nextAttemptAt: d.createdAt,
      updatedAt: d.createdAt,
      round: 0,
      roundAttempts: 0,
      ttl,
    };
    const outcome = await conditionalWrite(
      this.client,
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: `attribute_not_exists(${SK})`,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    if (outcome.written)
      return { created: true, record: toRecord(item as unknown as Record<string, unknown>) };
    if (!outcome.refused) throw outcome.error;
    return { created: false, record: toRecord(outcome.refused) };
  }

  async get(tenant: string, jobId: string, seq: number): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keyOf(tenant, jobId, seq), ConsistentRead: true }),
    );
    return Item && toRecord(Item);
  }

  /** Every delivery of a job, oldest event first. */
  async list(tenant: string, jobId: string): Promise<Delivery[]> {
    const found: Delivery[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `${PK} = :pk AND begins_with(${SK}, :prefix)`,
          ExpressionAttributeValues: { ':pk': jobPk(tenant, jobId), ':prefix': DELIVERY_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      found.push(...(out.Items ?? []).map(toRecord));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return found;
  }

  /**
   * Takes the next attempt of `round` for queue message `owner`: only while that attempt is still
   * the next one, no other message owns the delivery, and no lease on an attempt in flight is live.
   */
  async claim(m: DeliveryMessage, roundAttempts: number, owner: string, now: Date, leaseSeconds: number) {
    return this.conditional({
      Key: keyOf(m.tenant, m.jobId, m.seq),
      UpdateExpression: 'SET #owner = :owner, leaseUntil = :lease',
      ConditionExpression:
        '#status = :pending AND #round = :round AND roundAttempts = :n AND ' +
        '(attribute_not_exists(#owner) OR #owner = :owner) AND ' +
        '(attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
      ExpressionAttributeNames: { '#owner': 'owner', '#status': 'status', '#round': 'round' },
      ExpressionAttributeValues: {
        ':owner': owner,
        ':lease': new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
        ':pending': 'pending',
        ':round': m.round,
        ':n': roundAttempts,
        ':now': now.toISOString(),
      },
    });
  }

  /**
   * Records a claimed attempt and where it leaves the delivery. If a replay started a new round
   * meanwhile, the attempt still goes into the log, and the new round's schedule stands.
   */
  async record(
    m: DeliveryMessage,
    roundAttempts: number,
    owner: string,
    attempt: DeliveryAttempt,
    outcome: AttemptOutcome,
    now: Date,
  ): Promise<boolean> {
    const key = keyOf(m.tenant, m.jobId, m.seq);
    const pending = outcome.status === 'pending';
    const main = await this.updated({
      Key: key,
      UpdateExpression:
        'SET attempts = list_append(attempts, :attempt), attemptCount = attemptCount + :one, ' +
        'roundAttempts = :next, #status = :status, nextAttemptAt = :due, updatedAt = :now' +
        (pending ? `, ${LIVE_PK} = :shard, ${LIVE_SK} = :due` : '') +
        ' REMOVE leaseUntil' +
        (pending ? '' : `, ${LIVE_PK}, ${LIVE_SK}`),
      ConditionExpression: '#round = :round AND roundAttempts = :n AND #owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner', '#status': 'status', '#round': 'round' },
      ExpressionAttributeValues: {
        ':attempt': [attempt],
        ':one': 1,
        ':next': roundAttempts + 1,
        ':status': outcome.status,
        ':due': pending ? outcome.nextAttemptAt : null,
        ':now': now.toISOString(),
        ':round': m.round,
        ':n': roundAttempts,
        ':owner': owner,
        ...(pending ? { ':shard': deliveryShard(key[PK], key[SK]) } : {}),
      },
    });
    const recorded = main !== undefined;
    const after =
      main ??
      (await this.updated({
        Key: key,
        UpdateExpression:
          'SET attempts = list_append(attempts, :attempt), attemptCount = attemptCount + :one, updatedAt = :now',
        ConditionExpression: `attribute_exists(${SK})`,
        ExpressionAttributeValues: { ':attempt': [attempt], ':one': 1, ':now': now.toISOString() },
      }));
    if (((after?.attempts as unknown[] | undefined)?.length ?? 0) > MAX_KEPT_ATTEMPTS) {
      await this.trimAttempts(key);
    }
    return recorded;
  }

  /**
   * Drops the oldest attempts beyond MAX_KEPT_ATTEMPTS. A separate write, since one update cannot
   * both append to a list and remove from it; each removal is conditioned on the list still being
   * over the cap, so concurrent trims never drop a kept attempt. Only deliveries replayed enough
   * to pass the cap pay for it.
   */
  private async trimAttempts(key: DeliveryKey): Promise<void> {
    for (let excess = 0; excess < MAX_KEPT_ATTEMPTS; excess++) {
      const trimmed = await this.conditional({
        Key: key,
        UpdateExpression: 'REMOVE attempts[0]',
        ConditionExpression: 'size(attempts) > :kept',
        ExpressionAttributeValues: { ':kept': MAX_KEPT_ATTEMPTS },
      });
      if (!trimmed) return;
    }
  }

  /**
   * Starts a new round: pending, due now, schedule from the top, no owner (the message sent next
   * takes it; any older message is then a stale duplicate). Undefined if there is no such delivery.
   * At most REPLAY_LIMIT.perWindow replays per window: one more is refused with RateLimitedError.
   */
  async replay(tenant: string, jobId: string, seq: number, now: Date): Promise<DeliveryRecord | undefined> {
    const key = keyOf(tenant, jobId, seq);
    const floor = new Date(now.getTime() - REPLAY_LIMIT.windowSeconds * 1000).toISOString();
    const inWindow = await this.replayRound(key, now, {
      update: 'replaysInWindow = replaysInWindow + :one',
      condition: 'replayWindowStart > :floor AND replaysInWindow < :max',
      values: { ':floor': floor, ':max': REPLAY_LIMIT.perWindow },
    });
    if ('record' in inWindow) return inWindow.record;
    const newWindow = await this.replayRound(key, now, {
      update: 'replayWindowStart = :now, replaysInWindow = :one',
      condition: '(attribute_not_exists(replayWindowStart) OR replayWindowStart <= :floor)',
      values: { ':floor': floor },
    });
    if ('record' in newWindow) return newWindow.record;
    const old = newWindow.refused;
    if (!old) return undefined;
    const windowEnds = Date.parse(old.replayWindowStart ?? '') + REPLAY_LIMIT.windowSeconds * 1000;
    throw new RateLimitedError(
      `a delivery may be replayed at most ${REPLAY_LIMIT.perWindow} times per ${REPLAY_LIMIT.windowSeconds / 60} minutes`,
      Math.max(1, Math.ceil((windowEnds - now.getTime()) / 1000)),
    );
  }

  /** One conditional write of a replay: the new round plus the window bookkeeping it names. */
  private async replayRound(
    key: DeliveryKey,
    now: Date,
    window: { update: string; condition: string; values: Record<string, unknown> },
  ): Promise<{ record: DeliveryRecord } | { refused: DeliveryItem | undefined }> {
    const outcome = await conditionalWrite(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression:
          'SET #round = #round + :one, roundAttempts = :zero, #status = :pending, nextAttemptAt = :now, ' +
          `updatedAt = :now, ${LIVE_PK} = :shard, ${LIVE_SK} = :now, ${window.update} REMOVE #owner, leaseUntil`,
        ConditionExpression: `attribute_exists(${SK}) AND ${window.condition}`,
        ExpressionAttributeNames: { '#owner': 'owner', '#status': 'status', '#round': 'round' },
        ExpressionAttributeValues: {
          ...window.values,
          ':one': 1,
          ':zero': 0,
          ':pending': 'pending',
          ':now': now.toISOString(),
          ':shard': deliveryShard(key[PK], key[SK]),
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    if (outcome.written) return { record: toRecord(outcome.attributes ?? {}) };
    return { refused: outcome.refused as DeliveryItem | undefined };
  }

  /**
   * Frees an overdue delivery from the message that owns it (lost with a restarted local queue, or
   * stuck), so a new message can take it. Only if nothing moved since the sweep read it, and no
   * attempt holds a live lease, unless `staleLeases`: a restarted local stack knows every lease
   * belongs to a process that is gone, and clears it too.
   */
  async release(d: OverdueDelivery, now: Date, staleLeases = false): Promise<boolean> {
    return this.conditional({
      Key: keyOf(d.tenant, d.jobId, d.seq),
      UpdateExpression: staleLeases ? 'REMOVE #owner, leaseUntil' : 'REMOVE #owner',
      ConditionExpression:
        '#status = :pending AND #round = :round AND nextAttemptAt = :due' +
        (staleLeases ? '' : ' AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)'),
      ExpressionAttributeNames: { '#owner': 'owner', '#status': 'status', '#round': 'round' },
      ExpressionAttributeValues: {
        ':pending': 'pending',
        ':round': d.round,
        ':due': d.nextAttemptAt,
        ...(staleLeases ? {} : { ':now': now.toISOString() }),
      },
    });
  }

  /**
   * A page of the pending deliveries whose next attempt was due before `before`, across tenants
   * (sparse GSI2), from `from`, and where the next page starts: the sweep reads a bounded number
   * per run and goes on from there the next run.
   */
  async listOverduePage(
    before: string,
    from: SweepCursor,
    limit: number,
  ): Promise<{ deliveries: OverdueDelivery[]; next: SweepCursor | undefined }> {
    const page = await querySweepPage(
      this.client,
      this.tableName,
      DELIVERY_SHARD_PREFIX,
      before,
      from,
      limit,
    );
    // The index holds keys only; the round a new message must name comes from the item itself.
    const items = await Promise.all(
      page.items.map((k) => this.get(k.tenant, jobIdOf(k[PK], k.tenant), seqOf(k[SK]))),
    );
    const deliveries = items.flatMap((d) =>
      d?.status === 'pending' && d.nextAttemptAt ? [{ ...messageOf(d), nextAttemptAt: d.nextAttemptAt }] : [],
    );
    return { deliveries, next: page.next };
  }

  /** Every overdue delivery, page after page (the local stack re-queues them all when it starts). */
  async listOverdue(before: string): Promise<OverdueDelivery[]> {
    const found: OverdueDelivery[] = [];
    let cursor: SweepCursor | undefined = { shard: 0 };
    while (cursor) {
      const page = await this.listOverduePage(before, cursor, OVERDUE_PAGE);
      found.push(...page.deliveries);
      cursor = page.next;
    }
    return found;
  }

  /** Where the last sweep stopped reading overdue deliveries (the start when none did). */
  overdueCursor(): Promise<SweepCursor> {
    return readSweepCursor(this.client, this.tableName, DELIVERY_SWEEP_CURSOR_KEY);
  }

  saveOverdueCursor(cursor: SweepCursor): Promise<void> {
    return saveSweepCursor(this.client, this.tableName, DELIVERY_SWEEP_CURSOR_KEY, cursor);
  }

  /** A conditional update that hands back the attributes it set, or undefined when its condition failed. */
  private async updated(
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>,
  ): Promise<Record<string, unknown> | undefined> {
    const outcome = await conditionalWrite(
      this.client,
      new UpdateCommand({ TableName: this.tableName, ...input, ReturnValues: 'UPDATED_NEW' }),
    );
    return outcome.written ? (outcome.attributes ?? {}) : undefined;
  }

  private async conditional(
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>,
  ): Promise<boolean> {
    return conditionalWriteLanded(this.client, new UpdateCommand({ TableName: this.tableName, ...input }));
  }
}

export const messageOf = (d: DeliveryRecord): DeliveryMessage => ({
  tenant: d.tenant,
  jobId: d.jobId,
  seq: d.seq,
  round: d.round,
});

const jobIdOf = (pk: string, tenant: string) => pk.slice(jobPk(tenant, '').length);
const seqOf = (sk: string) => Number(sk.slice(DELIVERY_SK_PREFIX.length));

export function deliveryStoreFromEnv(env: NodeJS.ProcessEnv = process.env): DynamoDeliveryStore {
  return new DynamoDeliveryStore(requireEnv(ENV.tableName, env));
}
