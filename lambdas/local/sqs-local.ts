import type { AddressInfo } from 'node:net';
import { buildApp, interceptLocalhostDns } from 'fauxqs';
import { LOCAL_REGION } from './template.js';

export interface SqsLocal {
  /** Same origin as the queue URLs fauxqs hands out, so the SQS client never re-routes or warns. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/...`, and the SQS client sends each call
 * to its queue URL's host. `*.localhost` is loopback by RFC 6761 but the system resolver here does
 * not know it, so resolve it in-process; every SQS caller of the local stack lives in this process.
 */
export async function startSqsLocal(): Promise<SqsLocal> {
  const restoreDns = interceptLocalhostDns();
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (e) {
    restoreDns();
    throw e;
  }
  const { port } = app.server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://sqs.${LOCAL_REGION}.localhost:${port}`,
    stop: () => {
      stopping ??= app.close().then(restoreDns);
      return stopping;
    },
  };
}
