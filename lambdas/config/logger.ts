import { Logger } from '@aws-lambda-powertools/logger';

/** The service every function logs as; the stack hands it to each function as POWERTOOLS_SERVICE_NAME. */
export const SERVICE_NAME = 'agent-jobs';

/**
 * The one way handlers get a logger. Powertools takes an explicit `serviceName` over the
 * environment, so the name is read from POWERTOOLS_SERVICE_NAME here and the default applies only
 * where it is unset (tests, the local stack).
 */
export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  return new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME });
}
