import { DynamoApiKeyStore } from '../lambdas/adapters/dynamo-api-key-store.js';
import {
  type ApiKeyRecord,
  AUTHORIZER_CACHE_SECONDS,
  type ApiKeyStore,
  generateApiKey,
  isValidKeyName,
  KEY_ID_PATTERN,
  newApiKeyRecord,
} from '../lambdas/domain/api-key.js';
import { checkTenant, connect, takeTargetFlags, TARGET_USAGE, wholeNumber } from './tenancy-target.js';
import { exitCode, takeFlag, takeSwitch, UsageError } from './cli-args.js';

/**
 * `agent-jobs keys create | list | revoke`: API keys for tenants. A new key is printed once and
 * only its hash is stored; nothing shows a key again.
 */
export const KEYS_USAGE = `usage: agent-jobs keys create --tenant <tenant> [--name <name>] [--expires-in-days <days>] [--json]
       agent-jobs keys list [--tenant <tenant>] [--json]
       agent-jobs keys revoke <keyId>
${TARGET_USAGE}`;

const MAX_EXPIRY_DAYS = 3650;

export type KeysCommand =
  | { action: 'create'; tenant: string; name: string; expiresInDays: number | undefined; json: boolean }
  | { action: 'list'; tenant: string | undefined; json: boolean }
  | { action: 'revoke'; keyId: string };

/** The command from what follows `agent-jobs keys`, once the target flags are taken out. */
export function parseKeysCommand(args: string[]): KeysCommand {
  const rest = [...args];
  const action = rest.shift();
  const json = takeSwitch(rest, '--json');
  const done = <C extends KeysCommand>(command: C): C => {
    if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}\n${KEYS_USAGE}`);
    return command;
  };
  if (action === 'create') {
    const tenant = checkTenant(takeFlag(rest, '--tenant'), KEYS_USAGE);
    const name = takeFlag(rest, '--name') ?? 'default';
    if (!isValidKeyName(name))
      throw new UsageError('--name must be 1..100 printable characters without surrounding spaces');
    const expiresInDays = wholeNumber(rest, '--expires-in-days');
    if (expiresInDays !== undefined && expiresInDays > MAX_EXPIRY_DAYS) {
      throw new UsageError(`--expires-in-days must be at most ${MAX_EXPIRY_DAYS}`);
    }
    return done({ action, tenant, name, expiresInDays, json });
  }
  if (action === 'list') {
    const tenantFlag = takeFlag(rest, '--tenant');
    const tenant = tenantFlag === undefined ? undefined : checkTenant(tenantFlag, KEYS_USAGE);
    return done({ action, tenant, json });
  }
  if (action === 'revoke') {
    const keyId = rest.shift();
    if (!keyId || !KEY_ID_PATTERN.test(keyId))
      throw new UsageError(`a key id (key_ and 24 hex digits) is required\n${KEYS_USAGE}`);
    return done({ action, keyId });
  }
  throw new UsageError(KEYS_USAGE);
}

function status(record: ApiKeyRecord, now: Date): string {
  if (record.revokedAt) return `revoked ${record.revokedAt}`;
  if (record.expiresAt && Date.parse(record.expiresAt) <= now.getTime()) return `expired ${record.expiresAt}`;
  return record.expiresAt ? `active until ${record.expiresAt}` : 'active, no expiry';
}

export async function runKeysCommand(
  command: KeysCommand,
  store: ApiKeyStore,
  out: (line: string) => void,
  now: Date,
): Promise<void> {
  if (command.action === 'create') {
    const key = generateApiKey();
    const record = newApiKeyRecord(key, command.tenant, command.name, now, command.expiresInDays);
    // 256 random bits cannot collide in practice; a refused write still must not print a dead key.
    if (!(await store.create(record)))
      throw new Error('a key with this id already exists; run the command again');
    const { keyId, tenant, name, expiresAt } = record;
    if (command.json) return out(JSON.stringify({ keyId, key, tenant, name, expiresAt }));
    out(`key ${keyId} for tenant ${tenant} (${name}), ${expiresAt ? `expires ${expiresAt}` : 'no expiry'}:`);
    out(key);
    out('this is the only time the key is shown; store it now');
    return;
  }
  if (command.action === 'list') {
    const records = await store.list(command.tenant);
    if (command.json) return out(JSON.stringify({ items: records }));
    if (records.length === 0) out('no keys');
    for (const r of records)
      out(`${r.keyId}  tenant ${r.tenant}  ${r.name}  created ${r.createdAt}  ${status(r, now)}`);
    return;
  }
  const record = await store.revoke(command.keyId, now);
  out(`${record.keyId} (tenant ${record.tenant}) revoked at ${record.revokedAt}`);
  out(`deployed authorizers refuse it within ${AUTHORIZER_CACHE_SECONDS} s (their key cache)`);
}

/** `args` as typed after `agent-jobs keys`. */
export async function keysMain(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void = (line) => console.log(line),
  err: (line: string) => void = (line) => console.error(line),
  now: () => Date = () => new Date(),
): Promise<number> {
  return exitCode(async () => {
    const rest = [...args];
    const flags = takeTargetFlags(rest, env);
    const command = parseKeysCommand(rest);
    const target = await connect(flags);
    try {
      await runKeysCommand(command, new DynamoApiKeyStore(target.tableName, target.document), out, now());
    } finally {
      target.document.destroy();
    }
  }, err);
}
