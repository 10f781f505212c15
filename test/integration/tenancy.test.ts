import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { keysMain } from '../../bin/keys-cli.js';
import { tenantsMain } from '../../bin/tenants-cli.js';
import { DynamoApiKeyStore } from '../../lambdas/adapters/dynamo-api-key-store.js';
import { AUTHORIZER_CACHE_SECONDS, generateApiKey, newApiKeyRecord } from '../../lambdas/domain/api-key.js';
import { LOCAL_ENDPOINTS_FILE, type LocalEndpointsFile } from '../../lambdas/local/cli-endpoints.js';
import { type OperatorMain, runOperatorCli } from '../fixtures/operator-cli.js';

const dataDir = inject('dataDir');
const base = inject('apiUrl');

/** Runs the operator CLI against the test stack, as `npx agent-jobs ... --local <dataDir>` would. */
const cli = (main: OperatorMain, ...args: string[]) => runOperatorCli(main, dataDir, ...args);

const call = (key: string, path = '/v1/jobs?limit=1') =>
  fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });

async function createKey(tenant: string, ...extra: string[]) {
  const { code, out } = await cli(keysMain, 'create', '--tenant', tenant, '--json', ...extra);
  expect(code).toBe(0);
  return JSON.parse(out[0]!) as {
    keyId: string;
    key: string;
    tenant: string;
    name: string;
    expiresAt: string | null;
  };
}

/** The stack's table, straight through DynamoDB Local, for what the API cannot show. */
async function localTable() {
  const file = JSON.parse(await readFile(join(dataDir, LOCAL_ENDPOINTS_FILE), 'utf8')) as LocalEndpointsFile;
  const client = new DynamoDBClient({
    region: file.region,
    endpoint: file.endpoints.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    tableName: file.tableName,
    doc: DynamoDBDocumentClient.from(client),
    close: () => client.destroy(),
  };
}

let seq = 0;
const freshTenant = (label: string) => `tenancy-${label}-${Date.now().toString(36)}-${++seq}`;

describe('API keys over the local stack', () => {
  it('create -> use -> list -> revoke -> 401 within the authorizer cache window', async () => {
    const tenant = freshTenant('keys');
    const created = await createKey(tenant, '--name', 'ci', '--expires-in-days', '30');
    expect(created).toMatchObject({ tenant, name: 'ci', keyId: expect.stringMatching(/^key_[0-9a-f]{24}$/) });
    expect(created.key).toMatch(/^ak_[A-Za-z0-9_-]{43}$/);

    const used = await call(created.key);
    expect(used.status).toBe(200);

    const listed = await cli(keysMain, 'list', '--tenant', tenant, '--json');
    const { items } = JSON.parse(listed.out[0]!) as { items: Record<string, unknown>[] };
    expect(items).toEqual([
      expect.objectContaining({ keyId: created.keyId, tenant, name: 'ci', revokedAt: null }),
    ]);
    expect(listed.out.join('\n')).not.toContain(created.key);

    const revoked = await cli(keysMain, 'revoke', created.keyId);
    expect(revoked.code).toBe(0);
    const revokedAt = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - revokedAt < (AUTHORIZER_CACHE_SECONDS + 5) * 1000) {
      status = (await call(created.key)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual((AUTHORIZER_CACHE_SECONDS + 1) * 1000);
  }, 60_000);

  it('refuses an expired key with 401', async () => {
    const table = await localTable();
    const key = generateApiKey();
    // Issued two days ago for one day: expired yesterday.
    const issued = new Date(Date.now() - 2 * 86_400_000);
    await new DynamoApiKeyStore(table.tableName, table.doc).create(
      newApiKeyRecord(key, freshTenant('expired'), 'old', issued, 1),
    );
    table.close();
    const res = await call(key);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('lists the env-seeded keys as ordinary keys', async () => {
    const listed = await cli(keysMain, 'list', '--tenant', 'contract', '--json');
    const { items } = JSON.parse(listed.out[0]!) as { items: { name: string; revokedAt: null }[] };
    expect(items).toEqual([expect.objectContaining({ name: 'AGENT_JOBS_API_KEYS', revokedAt: null })]);
  });

  it('refuses bad tenant names and unknown key ids with a clear message', async () => {
    expect((await cli(keysMain, 'create', '--tenant', 'Not A Tenant')).code).toBe(2);
    const unknown = await cli(keysMain, 'revoke', 'key_000000000000000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.err.join('\n')).toMatch(/API key not found/);
  });
});

describe('request-rate limits over the local stack', () => {
  it('answers RateLimit headers, then 429 rate_limited with the exact Retry-After, changing nothing', async () => {
    const tenant = freshTenant('rate');
    expect(
      (await cli(tenantsMain, 'set-limits', tenant, '--requests-per-minute', '3', '--max-streams', '2')).code,
    ).toBe(0);
    const shown = await cli(tenantsMain, 'show', tenant, '--json');
    expect(JSON.parse(shown.out[0]!)).toMatchObject({
      tenant,
      limits: { requestsPerMinute: 3, maxStreams: 2 },
      overrides: { requestsPerMinute: 3, maxStreams: 2 },
    });
    const { key } = await createKey(tenant);

    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(key);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"requests";q=3;w=60');
      remaining.push(res.headers.get('ratelimit'));
    }
    expect(remaining[0]).toMatch(/^"requests";r=2;t=(19|20)$/);
    expect(remaining[2]).toMatch(/^"requests";r=0;t=(59|60)$/);

    const refused = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'echo', input: { message: 'over the limit' } }),
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await refused.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    // The first request's slot comes back 20 s after it was admitted.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(19);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(20);
    expect(refused.headers.get('ratelimit')).toMatch(/^"requests";r=0;t=\d+$/);

    // Nothing was created: the tenant has no job (listing is itself over the limit, so ask the table).
    const table = await localTable();
    const jobs = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :t',
        ExpressionAttributeValues: { ':t': `T#${tenant}` },
      }),
    );
    table.close();
    expect(jobs.Items).toEqual([]);
  });

  it('leaves public routes without RateLimit headers', async () => {
    const res = await fetch(`${base}/v1/health/live`);
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toBeNull();
  });
});

describe('event stream limits over the local stack', () => {
  /** Opens the job's event stream; resolves once the status line and headers are in. */
  async function openStream(key: string, id: string) {
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/jobs/${id}/stream`, {
      headers: { authorization: `Bearer ${key}` },
      signal: abort.signal,
    });
    return { res, close: () => abort.abort() };
  }

  async function waitingJob(key: string): Promise<string> {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      // Waits for an answer that never comes, so its stream stays open (up to the stream's maximum).
      body: JSON.stringify({ agent: 'approval', input: {} }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  it('admits maxStreams concurrent streams, refuses the next with 429 rate_limited, and admits again once one closes', async () => {
    const tenant = freshTenant('streams');
    expect(
      (await cli(tenantsMain, 'set-limits', tenant, '--max-streams', '2', '--requests-per-minute', '100'))
        .code,
    ).toBe(0);
    const shown = await cli(tenantsMain, 'show', tenant);
    expect(shown.out.find((l) => l.includes('maxStreams'))).toMatch(
      /^\s+maxStreams\s+2\s+\(set for this tenant\)$/,
    );
    const { key } = await createKey(tenant);
    const id = await waitingJob(key);

    const first = await openStream(key, id);
    const second = await openStream(key, id);
    expect([first.res.status, second.res.status]).toEqual([200, 200]);
    expect(first.res.headers.get('ratelimit-policy')).toBe('"requests";q=100;w=60');
    expect(first.res.headers.get('ratelimit')).toMatch(/^"requests";r=\d+;t=\d+$/);

    const third = await openStream(key, id);
    expect(third.res.status).toBe(429);
    expect(third.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await third.res.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number(third.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(third.res.headers.get('ratelimit-policy')).toBe('"requests";q=100;w=60');

    first.close();
    // The server gives the lease back as soon as it sees the client gone.
    let again = await openStream(key, id);
    for (let i = 0; again.res.status === 429 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await openStream(key, id);
    }
    expect(again.res.status).toBe(200);
    second.close();
    again.close();
  });

  it('counts a stream against the request rate: 429 rate_limited with Retry-After over it', async () => {
    const tenant = freshTenant('stream-rate');
    expect((await cli(tenantsMain, 'set-limits', tenant, '--requests-per-minute', '1')).code).toBe(0);
    const { key } = await createKey(tenant);
    const id = await waitingJob(key);
    const refused = await openStream(key, id);
    expect(refused.res.status).toBe(429);
    expect(await refused.res.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(Number(refused.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(refused.res.headers.get('ratelimit')).toMatch(/^"requests";r=0;t=\d+$/);
  });
});
