import { DynamoTenantLimitsStore } from '../lambdas/adapters/dynamo-tenant-limits-store.js';
import { AUTHORIZER_CACHE_SECONDS } from '../lambdas/domain/api-key.js';
import {
  BUILT_IN_LIMITS,
  effectiveLimits,
  LIMIT_NAMES,
  type LimitOverrides,
  type TenantLimits,
} from '../lambdas/domain/tenant-limits.js';
import { checkTenant, connect, takeTargetFlags, TARGET_USAGE, wholeNumber } from './tenancy-target.js';
import { exitCode, takeSwitch, UsageError } from './cli-args.js';

/** `agent-jobs tenants set-limits | show`: a tenant's own limits over the stack's defaults. */
export const TENANTS_USAGE = `usage: agent-jobs tenants set-limits <tenant> [--requests-per-minute N] [--tokens-per-minute N]
         [--max-running-jobs N] [--max-queued-jobs N] [--max-streams N]
       agent-jobs tenants show <tenant> [--json]
${TARGET_USAGE}
Only requests-per-minute is enforced so far; the other limits are stored and shown.`;

/** `requestsPerMinute` -> `--requests-per-minute`. */
const flagOf = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export type TenantsCommand =
  | { action: 'set-limits'; tenant: string; limits: LimitOverrides }
  | { action: 'show'; tenant: string; json: boolean };

export function parseTenantsCommand(args: string[]): TenantsCommand {
  const rest = [...args];
  const action = rest.shift();
  if (action !== 'set-limits' && action !== 'show') throw new UsageError(TENANTS_USAGE);
  const json = takeSwitch(rest, '--json');
  const limits = Object.fromEntries(
    LIMIT_NAMES.map((n) => [n, wholeNumber(rest, flagOf(n))]).filter(([, v]) => v !== undefined),
  ) as LimitOverrides;
  const tenant = checkTenant(rest.shift(), TENANTS_USAGE);
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}\n${TENANTS_USAGE}`);
  if (action === 'show') {
    if (Object.keys(limits).length > 0) throw new UsageError('show takes no limits; use set-limits');
    return { action, tenant, json };
  }
  if (Object.keys(limits).length === 0)
    throw new UsageError(`set-limits needs at least one limit\n${TENANTS_USAGE}`);
  return { action, tenant, limits };
}

function showLines(
  tenant: string,
  limits: TenantLimits,
  own: LimitOverrides,
  defaultsKnown: boolean,
): string[] {
  return [
    `tenant ${tenant}`,
    ...LIMIT_NAMES.map((n) => {
      const source =
        own[n] !== undefined ? 'set for this tenant' : defaultsKnown ? 'default' : 'built-in default';
      const enforced = n === 'requestsPerMinute' || n === 'maxStreams' ? '' : ', not enforced yet';
      return `  ${n.padEnd(18)} ${String(limits[n]).padStart(10)}  (${source}${enforced})`;
    }),
  ];
}

export async function runTenantsCommand(
  command: TenantsCommand,
  store: Pick<DynamoTenantLimitsStore, 'get' | 'set'>,
  defaults: TenantLimits | undefined,
  out: (line: string) => void,
  now: Date,
): Promise<void> {
  if (command.action === 'set-limits') {
    const own = await store.set(command.tenant, command.limits, now);
    out(`tenant ${command.tenant}: own limits now ${JSON.stringify(own)}`);
    out(`deployed authorizers apply them within ${AUTHORIZER_CACHE_SECONDS} s (their limits cache)`);
    return;
  }
  const own = (await store.get(command.tenant)) ?? {};
  const limits = effectiveLimits(defaults ?? BUILT_IN_LIMITS, own);
  if (command.json) return out(JSON.stringify({ tenant: command.tenant, limits, overrides: own }));
  for (const line of showLines(command.tenant, limits, own, defaults !== undefined)) out(line);
}

/** `args` as typed after `agent-jobs tenants`. */
export async function tenantsMain(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void = (line) => console.log(line),
  err: (line: string) => void = (line) => console.error(line),
  now: () => Date = () => new Date(),
): Promise<number> {
  return exitCode(async () => {
    const rest = [...args];
    const flags = takeTargetFlags(rest, env);
    const command = parseTenantsCommand(rest);
    const target = await connect(flags);
    try {
      const store = new DynamoTenantLimitsStore(target.tableName, target.document);
      await runTenantsCommand(command, store, target.defaultLimits, out, now());
    } finally {
      target.document.destroy();
    }
  }, err);
}
