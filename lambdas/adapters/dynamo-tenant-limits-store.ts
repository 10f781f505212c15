import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import { TENANCY_KEYS } from '../config/table.js';
import { LIMIT_NAMES, type LimitOverrides } from '../domain/tenant-limits.js';
import { documentClient } from './dynamo-table.js';

const limitsKey = (tenant: string) => ({ PK: `${TENANCY_KEYS.limits}${tenant}`, SK: 'LIMITS' });

function overridesOf(item: Record<string, unknown> | undefined): LimitOverrides | undefined {
  if (!item) return undefined;
  const entries = LIMIT_NAMES.filter((n) => typeof item[n] === 'number').map((n) => [n, item[n] as number]);
  return Object.fromEntries(entries) as LimitOverrides;
}

/** A tenant's own limits (overrides of the stack's defaults), one item per tenant. */
export class DynamoTenantLimitsStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async get(tenant: string): Promise<LimitOverrides | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: limitsKey(tenant) }),
    );
    return overridesOf(Item);
  }

  /** Sets the given limits, keeping the tenant's other overrides; answers all of them. */
  async set(tenant: string, overrides: LimitOverrides, now: Date): Promise<LimitOverrides> {
    const names = LIMIT_NAMES.filter((n) => overrides[n] !== undefined);
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: limitsKey(tenant),
        UpdateExpression: `SET ${['tenant', 'updatedAt', ...names].map((n) => `#${n} = :${n}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(
          ['tenant', 'updatedAt', ...names].map((n) => [`#${n}`, n]),
        ),
        ExpressionAttributeValues: {
          ':tenant': tenant,
          ':updatedAt': now.toISOString(),
          ...Object.fromEntries(names.map((n) => [`:${n}`, overrides[n]])),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return overridesOf(Attributes) ?? {};
  }
}

export const tenantLimitsStoreFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoTenantLimitsStore(requireEnv(ENV.tableName, env));
