import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { TABLE_KEYS, tokenBucketKey } from '../config/table.js';
import { AUTHORIZER_CACHE_SECONDS } from '../domain/api-key.js';
import type { TokenUsage } from '../domain/model.js';
import { effectiveLimits, parseDefaultLimits } from '../domain/tenant-limits.js';
import {
  chargeMs,
  decideReservation,
  latestTatFor,
  refundMs,
  reservationTokens,
  type ReserveResult,
  TOKEN_WINDOW_MS,
  type TokenBudget,
  type TokenReservation,
  usedTokens,
} from '../domain/token-budget.js';
import { documentClient, isConditionFailure } from './dynamo-table.js';
import { DynamoTenantLimitsStore } from './dynamo-tenant-limits-store.js';

/** An idle bucket's item goes away on its own a day after it would be full again. */
const IDLE_TTL_SECONDS = 86_400;
/** Each write has two shapes; more tries only happen while other calls move the TAT in between. */
const MAX_WRITES = 4;

export class TokenBudgetContention extends Error {
  override readonly name = 'TokenBudgetContention';
}

type Written = { tat: number } | { storedTat: number | undefined };

/**
 * The tenant token budget in the jobs table: one conditional UpdateItem per reservation, no read,
 * the admission test inside the write, so concurrent calls cannot both see budget left and
 * overspend it. As in the request-rate limiter, a bucket whose TAT has passed restarts from now
 * and a busy one moves its TAT on; the shape is guessed from the last TAT seen, and a wrong guess
 * costs a second write (the refused write returns the item, ALL_OLD).
 */
export class DynamoTokenBudget implements TokenBudget {
  private readonly lastTat = new Map<string, number>();
  private readonly logger = createLogger();

  constructor(
    private readonly tableName: string,
    /** The tenant's tokensPerMinute. */
    private readonly limitOf: (tenant: string) => Promise<number>,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async reserve(tenant: string, estimate: number, now: number): Promise<ReserveResult> {
    const tokensPerMinute = await this.limitOf(tenant);
    const tokens = reservationTokens(estimate, tokensPerMinute);
    const cost = chargeMs(tokensPerMinute, tokens);
    let busy = (this.lastTat.get(tenant) ?? 0) > now;
    for (let attempt = 0; attempt < MAX_WRITES; attempt++) {
      const written = await this.write(tenant, now, busy ? busyReserve(now, cost) : idleWrite(now, cost));
      if ('tat' in written) {
        this.lastTat.set(tenant, written.tat);
        return { admitted: true, reservation: { tenant, tokens, tokensPerMinute } };
      }
      const decision = decideReservation(written.storedTat, now, cost);
      this.lastTat.set(tenant, decision.tat);
      if (!decision.admitted) return { admitted: false, waitMs: decision.waitMs, tokensPerMinute };
      busy = (written.storedTat ?? 0) > now;
    }
    throw new TokenBudgetContention(`token budget of tenant ${tenant}: the bucket kept moving`);
  }

  async settle(reservation: TokenReservation, usage: TokenUsage, now: number): Promise<void> {
    const delta = usedTokens(usage, reservation.tokens) - reservation.tokens;
    if (delta > 0) await this.quietly(reservation, 'charge', () => this.charge(reservation, delta, now));
    if (delta < 0) await this.quietly(reservation, 'refund', () => this.refund(reservation, -delta, now));
  }

  release(reservation: TokenReservation, now: number): Promise<void> {
    return this.quietly(reservation, 'refund', () => this.refund(reservation, reservation.tokens, now));
  }

  /**
   * Settling must not fail a call that was answered: a charge that did not land lets the tenant
   * overspend by that call's excess once, a refund that did not land leaves the budget stricter.
   */
  private async quietly(reservation: TokenReservation, what: string, write: () => Promise<void>) {
    try {
      await write();
    } catch (error) {
      this.logger.warn(`token budget ${what} not recorded`, {
        tenant: reservation.tenant,
        error: error as Error,
      });
    }
  }

  private async charge(reservation: TokenReservation, tokens: number, now: number) {
    const { tenant } = reservation;
    const cost = chargeMs(reservation.tokensPerMinute, tokens);
    let busy = (this.lastTat.get(tenant) ?? 0) > now;
    for (let attempt = 0; attempt < MAX_WRITES; attempt++) {
      const written = await this.write(tenant, now, busy ? busyCharge(now, cost) : idleWrite(now, cost));
      if ('tat' in written) {
        this.lastTat.set(tenant, written.tat);
        return;
      }
      busy = (written.storedTat ?? 0) > now;
    }
    throw new TokenBudgetContention(`token budget of tenant ${tenant}: the bucket kept moving`);
  }

  /** Moves a busy bucket's TAT back; a bucket that is full again has nothing to refund. */
  private async refund(reservation: TokenReservation, tokens: number, now: number) {
    const back = refundMs(reservation.tokensPerMinute, tokens);
    if (back <= 0) return;
    const written = await this.write(reservation.tenant, now, {
      UpdateExpression: 'SET tat = tat - :back',
      ConditionExpression: 'tat > :now',
      ExpressionAttributeValues: { ':back': back, ':now': now },
    });
    if ('tat' in written) this.lastTat.set(reservation.tenant, written.tat);
  }

  private async write(tenant: string, now: number, shape: Shape): Promise<Written> {
    const ttl = Math.ceil((now + TOKEN_WINDOW_MS) / 1000) + IDLE_TTL_SECONDS;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: tokenBucketKey(tenant),
          UpdateExpression: `${shape.UpdateExpression}, #ttl = :ttl`,
          ConditionExpression: shape.ConditionExpression,
          ExpressionAttributeNames: { '#ttl': TABLE_KEYS.ttl },
          ExpressionAttributeValues: { ...shape.ExpressionAttributeValues, ':ttl': ttl },
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { tat: Attributes!.tat as number };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const item = (e as { Item?: Record<string, { N?: string }> }).Item;
      return { storedTat: item?.tat?.N === undefined ? undefined : Number(item.tat.N) };
    }
  }
}

interface Shape {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeValues: Record<string, number>;
}

/** A bucket that is full (TAT passed, or never used) starts over from now. */
const idleWrite = (now: number, cost: number): Shape => ({
  UpdateExpression: 'SET tat = :next',
  ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
  ExpressionAttributeValues: { ':next': now + cost, ':now': now },
});

/** A busy bucket takes the reservation only while it still fits the window. */
const busyReserve = (now: number, cost: number): Shape => ({
  UpdateExpression: 'SET tat = tat + :cost',
  ConditionExpression: 'tat > :now AND tat <= :latest',
  ExpressionAttributeValues: { ':cost': cost, ':now': now, ':latest': latestTatFor(now, cost) },
});

/** A charge after the fact is owed whatever the bucket holds: it may push the TAT past the window. */
const busyCharge = (now: number, cost: number): Shape => ({
  UpdateExpression: 'SET tat = tat + :cost',
  ConditionExpression: 'tat > :now',
  ExpressionAttributeValues: { ':cost': cost, ':now': now },
});

/** A tenant's tokensPerMinute is remembered this long, like the authorizer's limits. */
const LIMIT_CACHE_MS = AUTHORIZER_CACHE_SECONDS * 1000;

/** The budget over the stack's table, with each tenant's limit read from its limits item (cached). */
export function tokenBudgetFromEnv(env: NodeJS.ProcessEnv = process.env): DynamoTokenBudget {
  const tableName = requireEnv(ENV.tableName, env);
  const defaults = parseDefaultLimits(env[ENV.defaultLimits]);
  const store = new DynamoTenantLimitsStore(tableName);
  const cache = new Map<string, { limit: number; until: number }>();
  const limitOf = async (tenant: string) => {
    const hit = cache.get(tenant);
    if (hit && hit.until > Date.now()) return hit.limit;
    const limit = effectiveLimits(defaults, await store.get(tenant)).tokensPerMinute;
    cache.set(tenant, { limit, until: Date.now() + LIMIT_CACHE_MS });
    return limit;
  };
  return new DynamoTokenBudget(tableName, limitOf);
}
