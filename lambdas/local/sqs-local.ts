import { join } from 'node:path';
import { interceptLocalhostDns, startFauxqs } from 'fauxqs';
import { LOCAL_REGION } from './template.js';

export interface SqsLocalOptions {
  /** Queues and messages persist in SQLite under `<dataDir>/fauxqs`, S3 objects as files under `<dataDir>/s3`. */
  dataDir?: string;
  /** Keep everything in memory: a clean slate per start (tests). */
  inMemory?: boolean;
}

export interface SqsLocal {
  /** Same origin as the queue URLs fauxqs hands out, so the SQS client never re-routes or warns. */
  readonly endpoint: string;
  /**
   * The same server by IP address, for S3 (path-style URLs, no DNS) and for SQS clients outside this
   * process: given it as their endpoint, they send every call there, and fauxqs finds a queue by the
   * region and name in its URL.
   */
  readonly ipEndpoint: string;
  stop(): Promise<void>;
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/...`, and the SQS client sends each call
 * to its queue URL's host. `*.localhost` is loopback by RFC 6761 but the system resolver here does
 * not know it, so resolve it in-process; every SQS caller of the local stack lives in this process.
 */
export async function startSqsLocal(options: SqsLocalOptions = {}): Promise<SqsLocal> {
  const storage =
    options.inMemory || !options.dataDir
      ? {}
      : { dataDir: join(options.dataDir, 'fauxqs'), s3StorageDir: join(options.dataDir, 's3') };
  const restoreDns = interceptLocalhostDns();
  let server: Awaited<ReturnType<typeof startFauxqs>>;
  try {
    server = await startFauxqs({ port: 0, logger: false, defaultRegion: LOCAL_REGION, ...storage });
  } catch (e) {
    restoreDns();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://sqs.${LOCAL_REGION}.localhost:${server.port}`,
    ipEndpoint: `http://127.0.0.1:${server.port}`,
    stop: () => {
      stopping ??= server.stop().then(restoreDns);
      return stopping;
    },
  };
}
