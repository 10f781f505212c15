import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import { TENANCY_KEYS } from '../config/table.js';
import {
  judgeStreamLeases,
  STREAM_RETRY_BOUNDS_MS,
  type StreamLeaseDecision,
  type StreamLeases,
} from '../domain/stream-leases.js';
import { documentClient, isConditionFailure } from './dynamo-table.js';

const leasesKey = (tenant: string) => ({ PK: `${TENANCY_KEYS.streams}${tenant}`, SK: 'STREAMS' });
/** The item of a tenant that stops streaming goes away on its own a day after its last lease. */
const IDLE_TTL_SECONDS = 86_400;
/**
 * Each refused write has seen another stream take or give back a lease; past this many, streams
 * are opening faster than the writes settle and the client is asked to come back shortly.
 */
const MAX_ATTEMPTS = 8;
/**
 * Leases one write drops at most: each adds about 50 characters to the update and condition
 * expressions, which DynamoDB caps at 4 KB. More than this (many killed streams) are dropped a
 * batch per write before the lease is taken.
 */
const MAX_DROPPED = 48;

export interface StreamLeasePolicy {
  /** Concurrent streams the tenant may hold. */
  max: number;
  /** How long the lease lasts if the stream never gives it back. */
  leaseMs: number;
}

/** What the last refused write saw: no leases item yet, or its leases. */
type Seen = { leases: StreamLeases | undefined };

/**
 * Concurrent SSE streams per tenant: one item per tenant holding a map of stream id -> lease
 * expiry. Taking a lease is one conditional UpdateItem that also drops the leases it knows ran
 * out, its condition counting the map (size) with those still in it; a refused write returns
 * the item (ALL_OLD), so nothing is read before a write and contention only costs more writes.
 */
export class DynamoStreamLeases {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async acquire(
    tenant: string,
    streamId: string,
    policy: StreamLeasePolicy,
    now: number,
  ): Promise<StreamLeaseDecision> {
    // First guess: the item exists and no lease has run out.
    let seen: Seen = { leases: {} };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const decision = judgeStreamLeases(seen.leases ?? {}, policy.max, now);
      if (!decision.admitted) return decision;
      if (seen.leases && decision.expired.length > MAX_DROPPED) {
        seen = { leases: await this.drop(tenant, seen.leases, decision.expired.slice(0, MAX_DROPPED)) };
        continue;
      }
      const refused = await this.write(tenant, streamId, policy, now, seen.leases && decision.expired);
      if (!refused) return decision;
      seen = refused;
    }
    return { admitted: false, expired: [], retryAfterMs: STREAM_RETRY_BOUNDS_MS.min };
  }

  /** Gives the lease back; a lease already dropped (it ran out) is no error. */
  async release(tenant: string, streamId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: leasesKey(tenant),
          UpdateExpression: 'REMOVE #leases.#id',
          ConditionExpression: 'attribute_exists(#leases.#id)',
          ExpressionAttributeNames: { '#leases': 'leases', '#id': streamId },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }

  /** Drops leases that ran out (removing one already gone is no error); returns `leases` without them. */
  private async drop(tenant: string, leases: StreamLeases, expired: string[]): Promise<StreamLeases> {
    const names = Object.fromEntries(expired.map((id, i) => [`#x${i}`, id]));
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: leasesKey(tenant),
        UpdateExpression: `REMOVE ${Object.keys(names)
          .map((n) => `#leases.${n}`)
          .join(', ')}`,
        ExpressionAttributeNames: { '#leases': 'leases', ...names },
      }),
    );
    const gone = new Set(expired);
    return Object.fromEntries(Object.entries(leases).filter(([id]) => !gone.has(id)));
  }

  /**
   * `expired` undefined: the item has no leases yet and the write creates the map. Otherwise the
   * write adds the lease and drops `expired`, on condition that those are still there and the
   * map leaves room for one more beside them. Returns what a refused write found.
   */
  private async write(
    tenant: string,
    streamId: string,
    policy: StreamLeasePolicy,
    now: number,
    expired: string[] | undefined,
  ): Promise<Seen | undefined> {
    const until = now + policy.leaseMs;
    const names: Record<string, string> = { '#leases': 'leases', '#ttl': 'ttl' };
    const values: Record<string, unknown> = { ':ttl': Math.ceil(until / 1000) + IDLE_TTL_SECONDS };
    let update: string;
    let condition: string;
    if (expired === undefined) {
      update = 'SET #leases = :leases, #ttl = :ttl';
      condition = 'attribute_not_exists(#leases)';
      values[':leases'] = { [streamId]: until };
    } else {
      names['#id'] = streamId;
      values[':until'] = until;
      values[':room'] = policy.max + expired.length;
      const drop = expired.map((id, i) => {
        names[`#x${i}`] = id;
        return `#leases.#x${i}`;
      });
      update = `SET #leases.#id = :until, #ttl = :ttl${drop.length ? ` REMOVE ${drop.join(', ')}` : ''}`;
      condition = ['size(#leases) < :room', ...drop.map((path) => `attribute_exists(${path})`)].join(' AND ');
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: leasesKey(tenant),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const item = (e as { Item?: Record<string, AttributeValue> }).Item;
      const leases = item ? (unmarshall(item).leases as StreamLeases | undefined) : undefined;
      return { leases };
    }
  }
}

export const streamLeasesFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoStreamLeases(requireEnv(ENV.tableName, env));
