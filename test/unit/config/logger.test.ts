import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, SERVICE_NAME } from '../../../lambdas/config/logger.js';

/** The JSON lines a logger wrote while `fn` ran. */
function logged(fn: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    fn();
  } finally {
    write.mockRestore();
  }
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('createLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs under the service the function was given in POWERTOOLS_SERVICE_NAME', () => {
    const logger = createLogger({ POWERTOOLS_SERVICE_NAME: 'agent-jobs-eu' });
    const [line] = logged(() => logger.info('hello'));
    expect(line).toMatchObject({ service: 'agent-jobs-eu', message: 'hello' });
  });

  it('names the service itself where the variable is unset', () => {
    const logger = createLogger({});
    const [line] = logged(() => logger.info('hello'));
    expect(line).toMatchObject({ service: SERVICE_NAME });
  });
});
