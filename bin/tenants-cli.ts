import { DynamoTenantLimitsStore } from '../lambdas/adapters/dynamo-tenant-limits-store.js';
import { DynamoUsageStore } from '../lambdas/adapters/dynamo-usage-store.js';
import { ValidationError } from '../lambdas/domain/errors.js';
import { AUTHORIZER_CACHE_SECONDS } from '../lambdas/domain/api-key.js';
import {
  BUILT_IN_LIMITS,
  effectiveLimits,
  LIMIT_NAMES,
  limitOverridesSchema,
  type LimitOverrides,
  type TenantLimits,
} from '../lambdas/domain/tenant-limits.js';
import { type UsageDay, usageRange, type UsageRange } from '../lambdas/domain/usage.js';
import { checkTenant, connect, takeTargetFlags, TARGET_USAGE, wholeNumber } from './tenancy-target.js';
import { exitCode, takeFlag, takeSwitch, UsageError } from './cli-args.js';

/** `agent-jobs tenants set-limits | show`: a tenant's own limits over the stack's defaults. */
export const TENANTS_USAGE = `usage: agent-jobs tenants set-limits <tenant> [--requests-per-minute N] [--tokens-per-minute N]
         [--max-running-jobs N] [--max-queued-jobs N] [--max-streams N]
       agent-jobs tenants show <tenant> [--json]
       agent-jobs tenants usage <tenant> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]
${TARGET_USAGE}
usage: UTC days, at most 92; default the 30 days up to today.`;

/** `requestsPerMinute` -> `--requests-per-minute`. */
const flagOf = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export type TenantsCommand =
  | { action: 'set-limits'; tenant: string; limits: LimitOverrides }
  | { action: 'show'; tenant: string; json: boolean }
  | { action: 'usage'; tenant: string; range: UsageRange; json: boolean };

export function parseTenantsCommand(args: string[], now: Date = new Date()): TenantsCommand {
  const rest = [...args];
  const action = rest.shift();
  if (action !== 'set-limits' && action !== 'show' && action !== 'usage') throw new UsageError(TENANTS_USAGE);
  const json = takeSwitch(rest, '--json');
  if (action === 'usage') return parseUsage(rest, json, now);
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
  const checked = limitOverridesSchema.safeParse(limits);
  if (!checked.success) {
    const why = checked.error.issues.map((i) => `${flagOf(String(i.path[0]))} ${i.message}`);
    throw new UsageError(why.join('; '));
  }
  return { action, tenant, limits };
}

function parseUsage(rest: string[], json: boolean, now: Date): TenantsCommand {
  const [from, to] = [takeFlag(rest, '--from'), takeFlag(rest, '--to')];
  const tenant = checkTenant(rest.shift(), TENANTS_USAGE);
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}\n${TENANTS_USAGE}`);
  try {
    return { action: 'usage', tenant, range: usageRange(from, to, now), json };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    const why = (e.errors ?? []).map((f) => `--${f.path.replace('query.', '')} ${f.message}`);
    throw new UsageError(`${why.join('; ')}\n${TENANTS_USAGE}`);
  }
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
      return `  ${n.padEnd(18)} ${String(limits[n]).padStart(10)}  (${source})`;
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

const usageLine = (d: UsageDay) =>
  `  ${d.date}  ${[d.jobs, d.modelCalls, d.inputTokens, d.outputTokens].map((n) => String(n).padStart(12)).join('')}` +
  `  ${d.costUsd === null ? 'unknown' : `$${d.costUsd.toFixed(6)}`}`;

/** `tenants usage`: the tenant's days in the range and its effective limits, as GET /v1/usage shows them. */
export async function runUsageCommand(
  command: Extract<TenantsCommand, { action: 'usage' }>,
  stores: { limits: Pick<DynamoTenantLimitsStore, 'get'>; usage: Pick<DynamoUsageStore, 'days'> },
  defaults: TenantLimits | undefined,
  out: (line: string) => void,
  now: Date,
): Promise<void> {
  const { tenant, range } = command;
  const [items, own] = await Promise.all([stores.usage.days(tenant, range, now), stores.limits.get(tenant)]);
  const limits = effectiveLimits(defaults ?? BUILT_IN_LIMITS, own);
  if (command.json) return out(JSON.stringify({ tenant, ...range, items, limits }));
  out(`tenant ${tenant}: usage ${range.from} to ${range.to} (UTC)`);
  if (items.length === 0) return out('  no activity');
  out(
    `  ${'date'.padEnd(10)}${['jobs', 'modelCalls', 'inputTokens', 'outputTokens'].map((h) => h.padStart(12)).join('')}  costUsd`,
  );
  for (const day of items) out(usageLine(day));
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
    const at = now();
    const command = parseTenantsCommand(rest, at);
    const target = await connect(flags);
    try {
      const store = new DynamoTenantLimitsStore(target.tableName, target.document);
      if (command.action === 'usage') {
        const usage = new DynamoUsageStore(target.tableName, target.document);
        return await runUsageCommand(command, { limits: store, usage }, target.defaultLimits, out, at);
      }
      await runTenantsCommand(command, store, target.defaultLimits, out, at);
    } finally {
      target.document.destroy();
    }
  }, err);
}
