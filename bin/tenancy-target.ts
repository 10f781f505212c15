import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MARSHALL_OPTIONS } from '../lambdas/adapters/dynamo-table.js';
import { TENANT_PATTERN } from '../lambdas/domain/api-key.js';
import { parseDefaultLimits, type TenantLimits } from '../lambdas/domain/tenant-limits.js';
import { LOCAL_CREDENTIALS, localDataDir, readLocalEndpoints, takeFlag, UsageError } from './cli-args.js';

/** Shared by `keys` and `tenants`: where the table is, and how an operator says so. */
export const TARGET_USAGE = `  [--table <name>]               (or AGENT_JOBS_TABLE_NAME: the stack output TableName; usual AWS environment)
  [--default-limits <json>]      (or AGENT_JOBS_DEFAULT_LIMITS: the stack output DefaultLimits, for tenants show)
  [--local [dataDir]]            the local stack (default AGENT_JOBS_DATA_DIR, else .data)`;

export function checkTenant(tenant: string | undefined, usage: string): string {
  if (!tenant) throw new UsageError(`a tenant is required\n${usage}`);
  if (!TENANT_PATTERN.test(tenant)) {
    throw new UsageError(
      `tenant "${tenant}" is not valid: lower-case letters, digits, - and _, at most 64, starting with a letter or digit`,
    );
  }
  return tenant;
}

/** A whole number >= 1 from a flag, or undefined when the flag is absent. */
export function wholeNumber(args: string[], name: string): number | undefined {
  const text = takeFlag(args, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text === '' || !Number.isInteger(n) || n < 1)
    throw new UsageError(`${name} must be a whole number >= 1`);
  return n;
}

export interface TenancyTarget {
  tableName: string;
  document: DynamoDBDocumentClient;
  /** Known when the local stack wrote them or the operator passed them. */
  defaultLimits: TenantLimits | undefined;
}

/** The flags naming the table, taken out of args; the connection is made by `connect`. */
export function takeTargetFlags(args: string[], env: NodeJS.ProcessEnv) {
  const local = takeFlag(args, '--local');
  return {
    localDir: local === undefined ? undefined : localDataDir(local, env),
    table: takeFlag(args, '--table') || env.AGENT_JOBS_TABLE_NAME,
    defaultLimits: takeFlag(args, '--default-limits') || env.AGENT_JOBS_DEFAULT_LIMITS,
  };
}

export async function connect(flags: ReturnType<typeof takeTargetFlags>): Promise<TenancyTarget> {
  const marshallOptions = { ...MARSHALL_OPTIONS };
  if (flags.localDir !== undefined) {
    const file = await readLocalEndpoints(flags.localDir);
    const client = new DynamoDBClient({
      region: file.region,
      endpoint: file.endpoints.dynamodb,
      credentials: LOCAL_CREDENTIALS,
    });
    return {
      tableName: file.tableName,
      document: DynamoDBDocumentClient.from(client, { marshallOptions }),
      defaultLimits: file.defaultLimits,
    };
  }
  if (!flags.table) throw new UsageError('--table or AGENT_JOBS_TABLE_NAME is required (or --local)');
  return {
    tableName: flags.table,
    document: DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions }),
    defaultLimits: flags.defaultLimits ? parseDefaultLimits(flags.defaultLimits) : undefined,
  };
}
