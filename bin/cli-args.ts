import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_ENDPOINTS_FILE, type LocalEndpointsFile } from '../lambdas/local/cli-endpoints.js';

/** A mistake in the command line: its message is printed with the usage, and the exit code is 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Removes `--name [value]` from args; '' when the flag has no value, undefined when absent. */
export function takeFlag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  const hasValue = value !== undefined && !value.startsWith('--');
  args.splice(i, hasValue ? 2 : 1);
  return hasValue ? value : '';
}

/** Removes `--name` from args; whether it was there. */
export function takeSwitch(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

/** Runs a command, mapping usage errors to exit code 2 and other failures to 1. */
export async function exitCode(run: () => Promise<void>, err: (line: string) => void): Promise<number> {
  try {
    await run();
    return 0;
  } catch (e) {
    err(e instanceof UsageError ? e.message : `agent-jobs: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

/** The local stack's data dir for `--local [dataDir]`: the flag's value, else AGENT_JOBS_DATA_DIR, else .data. */
export function localDataDir(flagValue: string, env: NodeJS.ProcessEnv): string {
  return flagValue || env.AGENT_JOBS_DATA_DIR || '.data';
}

/** Credentials the local emulators accept (they check none). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What the local stack wrote at start: its table, queues and endpoints. */
export async function readLocalEndpoints(dataDir: string): Promise<LocalEndpointsFile> {
  return JSON.parse(await readFile(join(dataDir, LOCAL_ENDPOINTS_FILE), 'utf8')) as LocalEndpointsFile;
}
