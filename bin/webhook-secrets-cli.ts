import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { InspectableWebhookSecretStore } from '../lambdas/adapters/webhook-secrets.js';
import { SecretsManagerWebhookSecrets } from '../lambdas/adapters/webhook-secrets.js';
import { FileWebhookSecrets, LOCAL_WEBHOOK_SECRETS_FILE } from '../lambdas/local/file-webhook-secrets.js';
import { exitCode, localDataDir, takeFlag, UsageError } from './cli-args.js';

/**
 * `agent-jobs webhook-secret show | rotate`: what an operator does with a tenant's signing secret.
 * This is the one place a secret is printed on purpose: the operator hands it to the tenant, whose
 * receiver verifies signatures with it. Against a deployed stack it uses the usual AWS environment
 * (AWS_REGION, AWS_PROFILE); with `--local [dataDir]` the local stack's file under its data dir.
 */
export const WEBHOOK_SECRET_USAGE = `usage: agent-jobs webhook-secret show | rotate --tenant <tenant>
  [--overlap-hours <n>]          rotate: how long the old secret is still signed with (default 24)
  [--secrets-prefix <prefix>]    (or AGENT_JOBS_WEBHOOK_SECRETS_PREFIX: the deployed stack's secret name prefix)
  [--local [dataDir]]            the local stack (default $AGENT_JOBS_DATA_DIR, else .data)`;

const DEFAULT_OVERLAP_HOURS = 24;
/** How long a deployed deliverer may keep signing with what it read before a rotation. */
const DELIVERER_CACHE_NOTE = 'deployed deliverers pick up the new secret within a minute';

export interface WebhookSecretCommand {
  action: 'show' | 'rotate';
  tenant: string;
  overlapSeconds: number;
}

/** Where the secrets live: the flags are taken out of args first, so what remains is the command. */
function takeStoreFlags(args: string[], env: NodeJS.ProcessEnv) {
  const local = takeFlag(args, '--local');
  const prefix = takeFlag(args, '--secrets-prefix') || env.AGENT_JOBS_WEBHOOK_SECRETS_PREFIX;
  return { local, prefix };
}

function storeFor(
  { local, prefix }: ReturnType<typeof takeStoreFlags>,
  env: NodeJS.ProcessEnv,
): InspectableWebhookSecretStore {
  if (local !== undefined)
    return new FileWebhookSecrets(join(localDataDir(local, env), LOCAL_WEBHOOK_SECRETS_FILE));
  if (!prefix) throw new UsageError('--secrets-prefix or AGENT_JOBS_WEBHOOK_SECRETS_PREFIX is required');
  // No cache: an operator wants what is stored now.
  return new SecretsManagerWebhookSecrets(prefix, new SecretsManagerClient({}), { cacheSeconds: 0 });
}

function commandFrom(args: string[]): WebhookSecretCommand {
  const action = args.shift();
  if (action !== 'show' && action !== 'rotate') throw new UsageError(WEBHOOK_SECRET_USAGE);
  const tenant = takeFlag(args, '--tenant');
  if (!tenant) throw new UsageError(`--tenant is required\n${WEBHOOK_SECRET_USAGE}`);
  const hoursText = takeFlag(args, '--overlap-hours');
  const hours = hoursText === undefined ? DEFAULT_OVERLAP_HOURS : Number(hoursText);
  if (hoursText === '' || !Number.isFinite(hours) || hours <= 0) {
    throw new UsageError('--overlap-hours must be a positive number of hours');
  }
  if (args.length > 0) throw new UsageError(`unexpected ${args.join(' ')}\n${WEBHOOK_SECRET_USAGE}`);
  return { action, tenant, overlapSeconds: Math.round(hours * 3600) };
}

export async function runWebhookSecretCommand(
  command: WebhookSecretCommand,
  store: InspectableWebhookSecretStore,
  out: (line: string) => void,
  now: Date,
): Promise<void> {
  const { tenant } = command;
  if (command.action === 'show') {
    const secrets = await store.tenantSecrets(tenant);
    out(`tenant ${tenant}: current webhook signing secret`);
    out(secrets.current);
    const previous = secrets.previous.filter((p) => Date.parse(p.expiresAt) > now.getTime());
    if (previous.length === 0) out('no previous secret is signed with (no rotation in progress)');
    for (const p of previous) out(`a previous secret is also signed with until ${p.expiresAt}`);
    return;
  }
  const secret = await store.rotate(tenant, command.overlapSeconds, now);
  const until = new Date(now.getTime() + command.overlapSeconds * 1000).toISOString();
  out(`tenant ${tenant}: new webhook signing secret`);
  out(secret);
  out(`the old secret is also signed with until ${until} (${DELIVERER_CACHE_NOTE});`);
  out(`the tenant should verify with the new secret before then`);
}

/** `args` as typed after `agent-jobs webhook-secret`. */
export async function webhookSecretMain(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void = (line) => console.log(line),
  err: (line: string) => void = (line) => console.error(line),
  now: () => Date = () => new Date(),
): Promise<number> {
  const rest = [...args];
  return exitCode(async () => {
    const where = takeStoreFlags(rest, env);
    const command = commandFrom(rest);
    await runWebhookSecretCommand(command, storeFor(where, env), out, now());
  }, err);
}
