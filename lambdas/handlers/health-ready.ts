import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { WorkflowClient } from '../adapters/workflow-client.js';
import { ENV, requireEnv } from '../config/env.js';
import { httpHandler, logger } from './http/middleware.js';
import { json } from './http/response.js';

const tableName = requireEnv(ENV.tableName);
const dynamo = new DynamoDBClient({});
const workflow = new WorkflowClient(requireEnv(ENV.stateMachineArn));
const CHECK_TIMEOUT_MS = 2_000;

interface Check {
  name: string;
  run: () => Promise<boolean>;
}

const CHECKS: Check[] = [
  {
    name: 'table',
    run: async () =>
      (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus === 'ACTIVE',
  },
  { name: 'stateMachine', run: () => workflow.isActive() },
  // The built-in agents call no model; a provider-backed agent adds its own check here.
  { name: 'modelProvider', run: async () => true },
];

async function runCheck(check: Check) {
  try {
    const ok = await Promise.race([
      check.run(),
      new Promise<boolean>((_, reject) =>
        setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref(),
      ),
    ]);
    return {
      name: check.name,
      status: ok ? 'ok' : 'unavailable',
      detail: ok ? 'ready' : 'not active',
    } as const;
  } catch (error) {
    logger.warn('readiness check failed', { check: check.name, error: error as Error });
    return { name: check.name, status: 'unavailable', detail: (error as Error).name } as const;
  }
}

export const handler = httpHandler(async () => {
  const checks = await Promise.all(CHECKS.map(runCheck));
  const ready = checks.every((c) => c.status === 'ok');
  return json(ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', checks });
});
