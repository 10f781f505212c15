import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../../lambdas/adapters/dynamo-api-key-store.js';
import { DynamoTenantLimitsStore } from '../../../lambdas/adapters/dynamo-tenant-limits-store.js';
import { generateApiKey, hashApiKey, keyAdmits, newApiKeyRecord } from '../../../lambdas/domain/api-key.js';
import { NotFoundError } from '../../../lambdas/domain/errors.js';
import { seedApiKeys } from '../../../lambdas/local/api-keys.js';
import { useJobsTable } from '../support/dynamodb-local.js';

const TABLE = 'agent-jobs-api-keys-test';
const T0 = new Date('2025-06-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let doc: DynamoDBDocumentClient;
let keys: DynamoApiKeyStore;
let limits: DynamoTenantLimitsStore;
let seq = 0;
const freshTenant = () => `tenant-${process.pid}-${++seq}`;

useJobsTable(TABLE, (client) => {
  doc = client;
  keys = new DynamoApiKeyStore(TABLE, client);
  limits = new DynamoTenantLimitsStore(TABLE, client);
});

describe('DynamoApiKeyStore', () => {
  it('stores a key as its hash only, findable by its id', async () => {
    const key = generateApiKey();
    const record = newApiKeyRecord(key, freshTenant(), 'ci', T0, 30);
    expect(await keys.create(record)).toBe(true);

    const found = await keys.find(record.keyId);
    expect(found).toEqual(record);
    expect(found && keyAdmits(found, key, at(1))).toBe(true);
    const { Item } = await doc.send(
      new GetCommand({ TableName: TABLE, Key: { PK: `K#${record.keyId}`, SK: 'KEY' } }),
    );
    expect(JSON.stringify(Item)).not.toContain(key);
    expect(Item?.keyHash).toBe(hashApiKey(key));
  });

  it('refuses to overwrite a key that exists, so seeding again keeps a revocation', async () => {
    const tenant = freshTenant();
    const seeded = [{ tenant, key: generateApiKey(), name: 'AGENT_JOBS_API_KEYS' }];
    await seedApiKeys(keys, seeded, T0);
    const [listed] = await keys.list(tenant);
    await keys.revoke(listed!.keyId, at(5));

    await seedApiKeys(keys, seeded, at(10));
    expect(await keys.list(tenant)).toEqual([{ ...listed, revokedAt: at(5).toISOString() }]);
  });

  it("lists one tenant's keys in creation order without the hashes, or every tenant's", async () => {
    const [a, b] = [freshTenant(), freshTenant()];
    const first = newApiKeyRecord(generateApiKey(), a, 'first', at(1));
    const second = newApiKeyRecord(generateApiKey(), a, 'second', at(2), 7);
    const other = newApiKeyRecord(generateApiKey(), b, 'other', at(1));
    for (const r of [second, other, first]) await keys.create(r);

    const listed = await keys.list(a);
    expect(listed.map((r) => r.name)).toEqual(['first', 'second']);
    expect(listed[1]).toEqual({
      keyId: second.keyId,
      tenant: a,
      name: 'second',
      createdAt: at(2).toISOString(),
      expiresAt: second.expiresAt,
      revokedAt: null,
    });
    const all = await keys.list();
    expect(all.filter((r) => r.tenant === a || r.tenant === b).map((r) => r.name)).toEqual([
      'first',
      'second',
      'other',
    ]);
  });

  it('does not list a tenant whose name merely starts with another tenant', async () => {
    const a = freshTenant();
    await keys.create(newApiKeyRecord(generateApiKey(), `${a}-x`, 'longer', T0));
    expect(await keys.list(a)).toEqual([]);
  });

  it('revokes once: a second revoke keeps the first time; an unknown id is not found', async () => {
    const record = newApiKeyRecord(generateApiKey(), freshTenant(), 'r', T0);
    await keys.create(record);
    expect((await keys.revoke(record.keyId, at(3))).revokedAt).toBe(at(3).toISOString());
    expect((await keys.revoke(record.keyId, at(9))).revokedAt).toBe(at(3).toISOString());
    await expect(keys.revoke('key_000000000000000000000000', at(9))).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('DynamoTenantLimitsStore', () => {
  it('has no overrides for a new tenant and merges each change into the ones set before', async () => {
    const tenant = freshTenant();
    expect(await limits.get(tenant)).toBeUndefined();
    await limits.set(tenant, { requestsPerMinute: 5, maxStreams: 2 }, T0);
    expect(await limits.set(tenant, { maxStreams: 3 }, at(1))).toEqual({
      requestsPerMinute: 5,
      maxStreams: 3,
    });
    expect(await limits.get(tenant)).toEqual({ requestsPerMinute: 5, maxStreams: 3 });
  });
});
