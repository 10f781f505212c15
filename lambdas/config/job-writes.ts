import type { JobStatus } from '../domain/job.js';
import type { JobEventType } from '../domain/job-events.js';

/**
 * The rules every write to a job item follows, as DynamoDB expression parts: the store's updates
 * and the workflow's DynamoDB tasks (lib/workflows/job-workflow.ts) both build their expressions
 * here, so neither keeps a copy of its own.
 */

/** The attribute name every status condition and status update uses. */
export const STATUS_NAMES = { '#status': 'status' } as const;

/**
 * The condition of a write that makes a move of the status machine (domain MOVES, REDRIVE): the job
 * is in a status the move starts `from`. Its values are named `:from<i>`.
 */
export function statusCondition(from: readonly JobStatus[]): {
  condition: string;
  values: Record<string, JobStatus>;
} {
  const names = from.map((_, i) => `:from${i}`);
  const values = Object.fromEntries(from.map((s, i) => [names[i], s]));
  const condition = names.length === 1 ? `#status = ${names[0]}` : `#status IN (${names.join(', ')})`;
  return { condition, values };
}

/** What a submit's put writes: the first event, `job.created`, at seq 1. */
export const CREATED_EVENTS: readonly JobEventType[] = ['job.created'];

/**
 * The event-seq protocol. Every update that causes events advances the job's `eventSeq` by their
 * number and names them in `lastEventTypes`, in the same UpdateExpression: the item's own
 * conditional write is what hands out seqs, so two writers can never take the same one, and the
 * events consumer derives the events from the new image and the old image's seq (`eventsOfWrite`).
 * The submit's put starts both at CREATED_EVENTS; the one write that causes no event
 * (WaitForInput's task token) leaves them alone.
 */
export function announce(...types: JobEventType[]) {
  return {
    update: 'eventSeq = if_not_exists(eventSeq, :noEvents) + :eventCount, lastEventTypes = :eventTypes',
    values: { ':noEvents': 0, ':eventCount': types.length, ':eventTypes': types },
  };
}

/** The seq a job item had before its last write, by the same protocol. */
export const seqBeforeLastWrite = (item: { eventSeq?: number; lastEventTypes?: readonly unknown[] }) =>
  (item.eventSeq ?? 0) - (item.lastEventTypes?.length ?? 0);
