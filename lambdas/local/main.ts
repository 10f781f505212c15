import { JavaMissingError } from './dynamodb-local.js';
import { startLocalStack } from './stack.js';

/** `npm start`: the whole API on this machine, no AWS account needed. */
async function main() {
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  const startedAt = performance.now();
  const stack = await startLocalStack({ port, host, dataDir: process.env.AGENT_JOBS_DATA_DIR ?? '.data' });
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  console.log(
    [
      '',
      `agent-jobs is running at ${stack.url} (started in ${seconds} s)`,
      `dev API key (tenant dev): ${stack.apiKey}`,
      `dev webhook signing secret: ${stack.webhookSecret} (verify deliveries with standardwebhooks)`,
      `Step Functions endpoint: ${stack.endpoints.sfn} state machine: ${stack.stateMachineArn} (executions are named by job id)`,
      '',
      'Create a job:',
      `  curl -s -X POST ${stack.url}/v1/jobs -H "Authorization: Bearer ${stack.apiKey}" -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' -d '{"agent":"echo","input":{"message":"hello"}}'`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    // A second Ctrl-C means "now": skip the clean stop.
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    stack.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

function explain(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE')
    return `port ${process.env.PORT ?? 3000} is already in use: stop the other process or set PORT`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on HOST=${process.env.HOST}: no such local address`;
  if (e instanceof JavaMissingError) return `${e.message}. Install a JDK (17+) and try again.`;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

main().catch((e: unknown) => {
  console.error(`agent-jobs could not start: ${explain(e)}`);
  process.exit(1);
});
