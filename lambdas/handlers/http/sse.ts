import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobEvent } from '../../domain/job-events.js';
import { isTerminalEvent } from '../../domain/job-events.js';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  // Proxies such as nginx would otherwise hold events back to fill a buffer.
  'X-Accel-Buffering': 'no',
} as const;

/** How long a client waits before reconnecting after the stream ends or drops. */
const RECONNECT_MS = 1_000;

export interface TailOptions {
  /** The stream ends cleanly at this time (epoch ms); the client reconnects with Last-Event-ID. */
  deadline: number;
  keepAliveMs: number;
  /** Idle backoff: the first wait after an empty read, doubling up to the last. */
  firstPollMs: number;
  maxPollMs: number;
  /** Events one read may return; a full page is followed by the next read at once. */
  pageSize: number;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export const formatEvent = (e: JobEvent) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

/**
 * Writes the job's events after `after` as they are appended, until the terminal event, the
 * deadline or the client's disconnect. Reads back off while the log is idle, so an open stream
 * on a quiet job costs a few reads a minute, and go back to quick reads as soon as events flow.
 */
export async function tailEvents(
  out: Writable,
  read: (after: number) => Promise<JobEvent[]>,
  after: number,
  options: TailOptions,
): Promise<void> {
  const { signal } = options;
  out.write(`retry: ${RECONNECT_MS}\n\n`);
  let cursor = after;
  let delay = options.firstPollMs;
  let nextKeepAlive = Date.now() + options.keepAliveMs;
  while (!signal.aborted && Date.now() < options.deadline) {
    const events = await read(cursor);
    for (const event of events) {
      out.write(formatEvent(event));
      cursor = event.seq;
      if (isTerminalEvent(event.type)) return;
    }
    if (events.length >= options.pageSize) continue;
    delay = events.length > 0 ? options.firstPollMs : delay;
    const now = Date.now();
    if (now >= nextKeepAlive) {
      out.write(': keep-alive\n\n');
      nextKeepAlive = now + options.keepAliveMs;
    }
    const pause = Math.min(delay, nextKeepAlive - now, options.deadline - now);
    await sleep(Math.max(0, pause), undefined, { signal }).catch(() => undefined);
    if (events.length === 0) delay = Math.min(options.maxPollMs, delay * 2);
  }
}
