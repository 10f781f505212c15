/**
 * `agent-jobs <command> ...`. Each command's module loads only when it runs, so the job commands
 * never load the AWS SDK the operator commands use. A new command is one more entry in COMMANDS.
 */
type CommandMain = (args: string[], env: NodeJS.ProcessEnv) => Promise<number>;

const COMMANDS: Record<string, CommandMain> = {
  run: async (args, env) => (await import('./job-cli.js')).jobMain('run', args, env),
  jobs: async (args, env) => (await import('./job-cli.js')).jobMain('jobs', args, env),
  dlq: async (args, env) => (await import('./dlq-cli.js')).dlqMain(args, env),
  events: async (args, env) => (await import('./events-cli.js')).eventsMain(args, env),
  keys: async (args, env) => (await import('./keys-cli.js')).keysMain(args, env),
  tenants: async (args, env) => (await import('./tenants-cli.js')).tenantsMain(args, env),
  'webhook-secret': async (args, env) =>
    (await import('./webhook-secrets-cli.js')).webhookSecretMain(args, env),
};

const USAGE = `usage: agent-jobs <command> ...
  run AGENT --input JSON|@file [--wait] ...    submit a job, and follow it
  jobs get | list | watch | answer | cancel    the jobs of your API key's tenant
  dlq list | show | redrive                    operators: the dead-letter queues
  events repair                                operators: fill gaps in job event logs
  webhook-secret show | rotate                 operators: a tenant's webhook signing secret
  keys create | list | revoke                  operators: API keys
  tenants set-limits | show | usage            operators: a tenant's limits and daily usage
A command without arguments prints its options.`;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const command = COMMANDS[argv[0] ?? ''];
  if (command) return command(argv.slice(1), env);
  console.error(USAGE);
  return 2;
}
