import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ENV, requireEnv } from '../config/env.js';
import { TABLE_KEYS, TENANCY_KEYS } from '../config/table.js';
import type { ApiKeyRecord, ApiKeyStore, StoredApiKey } from '../domain/api-key.js';
import { NotFoundError } from '../domain/errors.js';
import { documentClient, isConditionFailure } from './dynamo-table.js';

const KEY_SK = 'KEY';
/** Every key sits in one list-index partition, sorted by tenant then creation: per-tenant lists are a range. */
const KEYS_PARTITION = TENANCY_KEYS.keyList;
const keyPk = (keyId: string) => `${TENANCY_KEYS.apiKey}${keyId}`;
const listSk = (r: ApiKeyRecord) => `${r.tenant}#${r.createdAt}#${r.keyId}`;

const PUBLIC_FIELDS = ['keyId', 'tenant', '#name', 'createdAt', 'expiresAt', 'revokedAt'].join(', ');

function publicRecord(item: Record<string, unknown>): ApiKeyRecord {
  return {
    keyId: item.keyId as string,
    tenant: item.tenant as string,
    name: item.name as string,
    createdAt: item.createdAt as string,
    expiresAt: (item.expiresAt as string | null | undefined) ?? null,
    revokedAt: (item.revokedAt as string | null | undefined) ?? null,
  };
}

/** Absent rather than NULL, so `if_not_exists(revokedAt, ...)` sees a key that was never revoked. */
const withoutNulls = (record: StoredApiKey) =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null));

/**
 * API keys as items of the jobs table, keyed by key id (derived from the key, so the authorizer
 * needs one GetItem) and listed through the list index, never by scanning.
 */
export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async create(record: StoredApiKey) {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            PK: keyPk(record.keyId),
            SK: KEY_SK,
            [TABLE_KEYS.listPartition]: KEYS_PARTITION,
            [TABLE_KEYS.listSort]: listSk(record),
            ...withoutNulls(record),
          },
          // Re-seeding a key (local stack restart) must not undo its revocation.
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async find(keyId: string) {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { PK: keyPk(keyId), SK: KEY_SK } }),
    );
    if (!Item) return undefined;
    return { ...publicRecord(Item), keyHash: Item.keyHash as string };
  }

  async list(tenant?: string) {
    const records: ApiKeyRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE_KEYS.listIndex,
          KeyConditionExpression: tenant
            ? 'GSI1PK = :keys AND begins_with(GSI1SK, :tenant)'
            : 'GSI1PK = :keys',
          ExpressionAttributeValues: {
            ':keys': KEYS_PARTITION,
            ...(tenant ? { ':tenant': `${tenant}#` } : {}),
          },
          ProjectionExpression: PUBLIC_FIELDS,
          ExpressionAttributeNames: { '#name': 'name' },
          ExclusiveStartKey: start,
        }),
      );
      records.push(...(page.Items ?? []).map(publicRecord));
      start = page.LastEvaluatedKey;
    } while (start);
    return records;
  }

  async revoke(keyId: string, now: Date) {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keyPk(keyId), SK: KEY_SK },
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :now)',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return publicRecord(Attributes!);
    } catch (e) {
      if (isConditionFailure(e)) throw new NotFoundError('API key');
      throw e;
    }
  }
}

export const apiKeyStoreFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  new DynamoApiKeyStore(requireEnv(ENV.tableName, env));
