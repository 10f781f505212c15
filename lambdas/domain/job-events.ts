import { DomainError } from './errors.js';
import type { Job, JobProgress, JsonValue } from './job.js';
import { toJobView } from './job.js';

export const JOB_EVENT_TYPES = [
  'job.created',
  'job.running',
  'job.progress',
  'job.input_required',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
  /** An operator ran a failed job again; `attempt` is the new attempt. */
  'job.redriven',
  /** Model text as it streams: `{step, text}`; one step's texts joined are that model call's text. */
  'job.output.delta',
  /** A tool call the model made: `{step, id, name, arguments}`. */
  'job.tool_call',
  /**
   * `{step}`: an earlier attempt of model call `step` broke off after its events were logged; its
   * `job.output.delta` and `job.tool_call` events so far are void, the retry's follow.
   */
  'job.output.reset',
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

const TERMINAL_EVENT_TYPES: readonly JobEventType[] = ['job.succeeded', 'job.failed', 'job.cancelled'];

export const isTerminalEvent = (type: JobEventType) => TERMINAL_EVENT_TYPES.includes(type);

/** Events whose data a running step supplies itself, written with the job item (see appendEvents). */
export const STEP_EVENT_TYPES = ['job.output.delta', 'job.tool_call', 'job.output.reset'] as const;
export type StepEventType = (typeof STEP_EVENT_TYPES)[number];

/** An event a running step announces, with its data. */
export interface StepEvent {
  type: StepEventType;
  data: JsonValue;
}

/**
 * Most serialized bytes of step-event data one write carries. The data rides on the job item (the
 * events consumer reads it from the write's stream image) and then lands in an event item: both
 * are DynamoDB items of at most 400 KB, and the job item is rewritten on every step.
 */
export const MAX_STEP_EVENTS_WRITE_BYTES = 64 * 1024;

const dataBytes = (event: StepEvent) => Buffer.byteLength(JSON.stringify(event.data));

/** Text cut into pieces whose JSON strings stay within `maxBytes`, never inside a code point. */
function splitText(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(JSON.stringify(char)) - 2;
    if (bytes + size > maxBytes && piece !== '') {
      pieces.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += char;
    bytes += size;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
}

/** Room for a delta's `{"step":…,"text":""}` and a tool call's id and name around the bulky part. */
const ENVELOPE_BYTES = 1024;

/**
 * An event whose data fits MAX_STEP_EVENTS_WRITE_BYTES: a long delta becomes several deltas (joined,
 * the same text); a tool call's oversized arguments become `null` with `argumentsTruncated: {bytes}`
 * (the model's conversation keeps them; the log shows they were there).
 */
function fitted(event: StepEvent): StepEvent[] {
  if (dataBytes(event) <= MAX_STEP_EVENTS_WRITE_BYTES) return [event];
  const data = event.data as Record<string, JsonValue>;
  if (event.type === 'job.output.delta') {
    return splitText(data.text as string, MAX_STEP_EVENTS_WRITE_BYTES - ENVELOPE_BYTES).map((text) => ({
      type: event.type,
      data: { ...data, text },
    }));
  }
  if (event.type === 'job.tool_call') {
    const bytes = Buffer.byteLength(JSON.stringify(data.arguments));
    return [{ type: event.type, data: { ...data, arguments: null, argumentsTruncated: { bytes } } }];
  }
  return [event];
}

/**
 * A step's events as the writes that announce them, in order: each write's data within
 * MAX_STEP_EVENTS_WRITE_BYTES (see `fitted` for an event larger than that on its own).
 */
export function stepEventWrites(events: readonly StepEvent[]): StepEvent[][] {
  const writes: StepEvent[][] = [];
  let current: StepEvent[] = [];
  let bytes = 0;
  for (const event of events.flatMap(fitted)) {
    const size = dataBytes(event);
    if (current.length > 0 && bytes + size > MAX_STEP_EVENTS_WRITE_BYTES) {
      writes.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) writes.push(current);
  return writes;
}

/** One entry of a job's append-only log; `seq` runs 1, 2, 3… with no gaps. */
export interface JobEvent {
  seq: number;
  type: JobEventType;
  at: string;
  data: JsonValue;
}

/** Most events a page of the log may hold, and the default (API contract, events endpoint). */
export const MAX_EVENTS_PAGE = 1000;
export const DEFAULT_EVENTS_PAGE = 100;

/** Agent-supplied progress data beyond this (serialized) is dropped: the job item must stay small. */
export const MAX_PROGRESS_DATA_BYTES = 4 * 1024;

/** Progress data as it will be stored, or null when there is none or it is over the cap. */
export function cappedProgressData(data: unknown): { data: JsonValue | null; dropped: boolean } {
  if (data === undefined || data === null) return { data: null, dropped: false };
  const text = JSON.stringify(data);
  if (text === undefined || Buffer.byteLength(text) > MAX_PROGRESS_DATA_BYTES) {
    return { data: null, dropped: true };
  }
  return { data: JSON.parse(text) as JsonValue, dropped: false };
}

/**
 * A committed write to a job item, as the table's stream reports it: the job after the write, the
 * event types the write declared (in order) and its seq counter, plus the counter before it.
 */
export interface CommittedWrite {
  job: Job;
  previousSeq: number;
  eventTypes: readonly JobEventType[];
  progressData: JsonValue | null;
  /** The data of the write's step events, by position in `eventTypes` (see StepEvent). */
  eventData?: readonly JsonValue[] | null;
}

const progressOf = (p: JobProgress, data: JsonValue | null) => ({ ...p, data });

/** What each event says: what changed, or for the last event of a job, the whole job. */
const DATA: Record<JobEventType, (w: CommittedWrite, index: number) => JsonValue> = {
  'job.created': (w) => toJobView(w.job) as unknown as JsonValue,
  'job.running': (w) => ({ status: w.job.status, attempt: w.job.attempt, startedAt: w.job.startedAt }),
  'job.progress': (w) => progressOf(w.job.progress, w.progressData),
  'job.input_required': (w) => ({ status: w.job.status, inputRequest: w.job.inputRequest as JsonValue }),
  'job.succeeded': (w) => toJobView(w.job) as unknown as JsonValue,
  'job.failed': (w) => toJobView(w.job) as unknown as JsonValue,
  'job.cancelled': (w) => toJobView(w.job) as unknown as JsonValue,
  'job.redriven': (w) => ({ status: w.job.status, attempt: w.job.attempt }),
  'job.output.delta': (w, i) => w.eventData?.[i] ?? null,
  'job.tool_call': (w, i) => w.eventData?.[i] ?? null,
  'job.output.reset': (w, i) => w.eventData?.[i] ?? null,
};

/**
 * The events one write caused. The write advanced the job's seq by exactly as many events as it
 * declared, so the last event takes the new seq and earlier ones count down from it. A mismatch
 * means a writer broke that rule: refusing it keeps gaps and collisions out of the log.
 */
export function eventsOfWrite(write: CommittedWrite): JobEvent[] {
  const { job, previousSeq, eventTypes } = write;
  if (job.eventSeq === previousSeq) return [];
  if (job.eventSeq - previousSeq !== eventTypes.length) {
    throw new DomainError(
      'internal_error',
      `job ${job.id}: seq moved ${previousSeq} -> ${job.eventSeq} for ${eventTypes.length} event(s)`,
    );
  }
  return eventTypes.map((type, i) => ({
    seq: previousSeq + i + 1,
    type,
    at: job.updatedAt,
    data: DATA[type](write, i),
  }));
}

/** An event put back into a job's log: exactly as first derived, or a stand-in for a lost one. */
export interface RepairedEvent {
  event: JobEvent;
  exact: boolean;
}

/**
 * The events missing from a job's log (seqs 1..job.eventSeq not in `logged`, which maps each
 * logged seq to its time). The job item's last write still names its events, so those come back
 * exactly as the stream would have made them. An earlier write's events are not kept anywhere else:
 * each becomes a `job.progress` event with the job's progress now, dated like the next logged event,
 * so the log has no hole for readers to wait on (seq and order are what they rely on).
 */
export function missingEvents(latest: CommittedWrite, logged: ReadonlyMap<number, string>): RepairedEvent[] {
  const exact = new Map(eventsOfWrite(latest).map((e) => [e.seq, e]));
  const missing: RepairedEvent[] = [];
  for (let seq = 1; seq <= latest.job.eventSeq; seq++) {
    if (logged.has(seq)) continue;
    const event = exact.get(seq);
    if (event) {
      missing.push({ event, exact: true });
      continue;
    }
    const at = nextLoggedAt(seq, logged) ?? latest.job.updatedAt;
    const data = progressOf(latest.job.progress, null);
    missing.push({ event: { seq, type: 'job.progress', at, data }, exact: false });
  }
  return missing;
}

function nextLoggedAt(seq: number, logged: ReadonlyMap<number, string>): string | undefined {
  let best: number | undefined;
  for (const s of logged.keys()) if (s > seq && (best === undefined || s < best)) best = s;
  return best === undefined ? undefined : logged.get(best);
}
