import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDeliveryStore } from '../lambdas/adapters/dynamo-delivery-store.js';
import { DynamoJobStore, MARSHALL_OPTIONS } from '../lambdas/adapters/dynamo-job-store.js';
import { EventLogRepair, jobsInTable } from '../lambdas/adapters/event-log-repair.js';
import {
  exitCode,
  LOCAL_CREDENTIALS,
  localDataDir,
  readLocalEndpoints,
  takeFlag,
  UsageError,
} from './cli-args.js';

/**
 * `agent-jobs events repair [JOB_ID...]`: fills the gaps in job event logs that a batch given up on
 * by the events consumer (the events DLQ) left. Without ids it goes through every job in the table.
 */
export const EVENTS_USAGE = `usage: agent-jobs events repair [JOB_ID...]   every job when no id is given
  [--table <name>]      (or AGENT_JOBS_TABLE_NAME: the stack output TableName)
  [--local [dataDir]]   the local stack (default $AGENT_JOBS_DATA_DIR, else .data)`;

async function tableFrom(args: string[], env: NodeJS.ProcessEnv) {
  const local = takeFlag(args, '--local');
  if (local !== undefined) {
    const file = await readLocalEndpoints(localDataDir(local, env));
    const client = new DynamoDBClient({
      region: file.region,
      endpoint: file.endpoints.dynamodb,
      credentials: LOCAL_CREDENTIALS,
    });
    return { tableName: file.tableName, client };
  }
  const tableName = takeFlag(args, '--table') || env.AGENT_JOBS_TABLE_NAME;
  if (!tableName) throw new UsageError(`--table or AGENT_JOBS_TABLE_NAME is required\n${EVENTS_USAGE}`);
  return { tableName, client: new DynamoDBClient({}) };
}

export async function runEventsRepair(
  tableName: string,
  doc: DynamoDBDocumentClient,
  ids: readonly string[],
  out: (line: string) => void,
): Promise<number> {
  const repair = new EventLogRepair(
    new DynamoJobStore(tableName, doc),
    new DynamoDeliveryStore(tableName, doc),
  );
  let jobs = 0;
  let filled = 0;
  for await (const { tenant, id } of jobsInTable(doc, tableName, ids)) {
    jobs++;
    const repaired = await repair.repair(tenant, id);
    filled += repaired.length;
    if (repaired.length === 0) continue;
    const list = repaired.map((r) => `${r.event.seq} ${r.event.type}${r.exact ? '' : ' (stand-in)'}`);
    out(`${id}  tenant ${tenant}: ${repaired.length} event(s) put back: ${list.join(', ')}`);
  }
  out(`${jobs} job(s) checked, ${filled} event(s) put back`);
  return filled;
}

export async function eventsMain(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = [...argv];
  return exitCode(async () => {
    const { tableName, client } = await tableFrom(args, env);
    const [action, ...ids] = args;
    if (action !== 'repair') throw new UsageError(EVENTS_USAGE);
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { ...MARSHALL_OPTIONS } });
    await runEventsRepair(tableName, doc, ids, (line) => console.log(line));
  }, console.error);
}
