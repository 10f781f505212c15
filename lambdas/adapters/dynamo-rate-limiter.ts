import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import { TENANCY_KEYS } from '../config/table.js';
import {
  admittedAt,
  emissionIntervalMs,
  gcraDecide,
  type GcraDecision,
  type GcraPolicy,
  latestAdmissibleTat,
} from '../domain/gcra.js';
import { documentClient, isConditionFailure } from './dynamo-table.js';
import type { TransactItem } from './dynamo-job-slots.js';

const rateKey = (tenant: string) => ({ PK: `${TENANCY_KEYS.rate}${tenant}`, SK: 'REQUESTS' });
/** An idle bucket's item goes away on its own a day after it would be full again. */
const IDLE_TTL_SECONDS = 86_400;

/**
 * The two shapes of the one write: a bucket whose TAT has passed restarts from now, a busy one
 * moves its TAT on. DynamoDB has no max() in an update, so the write is chosen from the last TAT
 * this container saw; when that guess is wrong the refused write returns the item (ALL_OLD) and
 * the other shape is written, so only a wrong guess costs a second write and nothing is read.
 */
type Shape = 'idle' | 'busy';

/**
 * Request-rate limiting per tenant (GCRA) in the jobs table: one conditional UpdateItem per
 * admitted request, no read. A refused write changes nothing and its ALL_OLD item gives the exact wait.
 */
export class DynamoRateLimiter {
  /** Last TAT seen per tenant in this container: only a hint for which write to send. */
  private readonly lastTat = new Map<string, number>();

  constructor(
    readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /** The rate update for `tenant` as an item of the caller's transaction (see RateLimitPart). */
  part(tenant: string, policy: GcraPolicy, now: number): RateLimitPart {
    return new RateLimitPart(this, tenant, policy, now, this.lastTat.get(tenant));
  }

  remember(tenant: string, tat: number) {
    this.lastTat.set(tenant, tat);
  }

  async admit(tenant: string, policy: GcraPolicy, now: number): Promise<GcraDecision> {
    const hint = this.lastTat.get(tenant);
    let shape: Shape = hint !== undefined && hint > now ? 'busy' : 'idle';
    // Two shapes; a third try only happens when another container moved the TAT in between.
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = await this.write(tenant, policy, now, shape);
      if ('tat' in outcome) {
        this.lastTat.set(tenant, outcome.tat);
        return admittedAt(policy, outcome.tat, now);
      }
      const decision = gcraDecide(policy, outcome.storedTat, now);
      this.lastTat.set(tenant, decision.tat);
      if (!decision.admitted) return decision;
      shape = outcome.storedTat !== undefined && outcome.storedTat > now ? 'busy' : 'idle';
    }
    throw new Error(`rate limit of tenant ${tenant}: the bucket kept moving under contention`);
  }

  private async write(
    tenant: string,
    policy: GcraPolicy,
    now: number,
    shape: Shape,
  ): Promise<{ tat: number } | { storedTat: number | undefined }> {
    const interval = emissionIntervalMs(policy);
    const ttl = Math.ceil((now + policy.windowMs) / 1000) + IDLE_TTL_SECONDS;
    const common = {
      TableName: this.tableName,
      Key: rateKey(tenant),
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ReturnValues: 'UPDATED_NEW' as const,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    const input =
      shape === 'idle'
        ? {
            ...common,
            UpdateExpression: 'SET tat = :next, #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
            ExpressionAttributeValues: { ':next': now + interval, ':now': now, ':ttl': ttl },
          }
        : {
            ...common,
            UpdateExpression: 'SET tat = tat + :interval, #ttl = :ttl',
            ConditionExpression: 'tat > :now AND tat <= :latest',
            ExpressionAttributeValues: {
              ':interval': interval,
              ':now': now,
              ':latest': latestAdmissibleTat(policy, now),
              ':ttl': ttl,
            },
          };
    try {
      const { Attributes } = await this.client.send(new UpdateCommand(input));
      return { tat: Attributes!.tat as number };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const item = (e as { Item?: Record<string, { N?: string }> }).Item;
      return { storedTat: item?.tat?.N === undefined ? undefined : Number(item.tat.N) };
    }
  }
}

/**
 * The GCRA update as one item of a caller's own transaction (a submit), so the request's admission
 * and its write are one round trip. Transactions return nothing on success, so the write is
 * pinned to the TAT it expects (or to an idle bucket) and the new TAT is known exactly; a refused
 * condition returns the stored item (ALL_OLD), which either refuses the request with the exact
 * wait or tells the caller to send the transaction again with the TAT now known.
 */
export class RateLimitPart {
  readonly item: TransactItem;
  private readonly next: number;

  constructor(
    private readonly limiter: DynamoRateLimiter,
    private readonly tenant: string,
    private readonly policy: GcraPolicy,
    private readonly now: number,
    expected: number | undefined,
  ) {
    const interval = emissionIntervalMs(policy);
    const busy = expected !== undefined && expected > now;
    this.next = (busy ? expected : now) + interval;
    const ttl = Math.ceil((now + policy.windowMs) / 1000) + IDLE_TTL_SECONDS;
    this.item = {
      Update: {
        TableName: limiter.tableName,
        Key: rateKey(tenant),
        UpdateExpression: 'SET tat = :next, #ttl = :ttl',
        ConditionExpression: busy
          ? 'tat = :expected AND tat <= :latest'
          : 'attribute_not_exists(tat) OR tat <= :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':next': this.next,
          ':ttl': ttl,
          ...(busy
            ? { ':expected': expected, ':latest': latestAdmissibleTat(policy, now) }
            : { ':now': now }),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /** The decision once the transaction committed. */
  admitted(): GcraDecision {
    this.limiter.remember(this.tenant, this.next);
    return admittedAt(this.policy, this.next, this.now);
  }

  /**
   * The stored item this write's condition refused: a refusal of the request (with the exact wait),
   * or the part to send instead, pinned to the TAT now known.
   */
  refused(stored: Record<string, unknown> | undefined): GcraDecision | RateLimitPart {
    const storedTat = stored?.tat as number | undefined;
    const decision = gcraDecide(this.policy, storedTat, this.now);
    this.limiter.remember(this.tenant, decision.tat);
    if (!decision.admitted) return decision;
    return new RateLimitPart(this.limiter, this.tenant, this.policy, this.now, storedTat);
  }
}

export const rateLimiterFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoRateLimiter(requireEnv(ENV.tableName, env));
