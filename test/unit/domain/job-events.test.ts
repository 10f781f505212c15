import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../lambdas/domain/errors.js';
import { toJobView } from '../../../lambdas/domain/job.js';
import {
  cappedProgressData,
  eventsOfWrite,
  isTerminalEvent,
  MAX_PROGRESS_DATA_BYTES,
  MAX_STEP_EVENTS_WRITE_BYTES,
  type StepEvent,
  stepEventWrites,
} from '../../../lambdas/domain/job-events.js';
import { makeJob } from '../support/fixtures.js';

const AT = '2025-06-01T10:00:05.000Z';

describe('eventsOfWrite', () => {
  it('turns a new job into job.created with seq 1 and the whole job as data', () => {
    const job = makeJob({ eventSeq: 1 });
    const events = eventsOfWrite({ job, previousSeq: 0, eventTypes: ['job.created'], progressData: null });
    expect(events).toEqual([{ seq: 1, type: 'job.created', at: job.updatedAt, data: toJobView(job) }]);
  });

  it("gives a step's streamed text and tool calls the data the step wrote with them, in order", () => {
    const job = makeJob({ status: 'running', updatedAt: AT, eventSeq: 7 });
    const delta = { step: 2, text: 'Hello' };
    const call = { step: 2, id: 'call_1', name: 'fetch_url', arguments: { url: 'https://example.com' } };
    const events = eventsOfWrite({
      job,
      previousSeq: 5,
      eventTypes: ['job.output.delta', 'job.tool_call'],
      progressData: null,
      eventData: [delta, call],
    });
    expect(events).toEqual([
      { seq: 6, type: 'job.output.delta', at: AT, data: delta },
      { seq: 7, type: 'job.tool_call', at: AT, data: call },
    ]);
  });

  it('reports what changed for a start: status, attempt and start time', () => {
    const job = makeJob({ status: 'running', startedAt: AT, updatedAt: AT, eventSeq: 2 });
    const [event] = eventsOfWrite({ job, previousSeq: 1, eventTypes: ['job.running'], progressData: null });
    expect(event).toEqual({
      seq: 2,
      type: 'job.running',
      at: AT,
      data: { status: 'running', attempt: 1, startedAt: AT },
    });
  });

  it('carries the agent’s message and data on a progress event', () => {
    const progress = { fraction: 0.5, step: 2, message: 'half way' };
    const job = makeJob({ status: 'running', progress, updatedAt: AT, eventSeq: 4 });
    const [event] = eventsOfWrite({
      job,
      previousSeq: 3,
      eventTypes: ['job.progress'],
      progressData: { tokens: 12 },
    });
    expect(event).toEqual({
      seq: 4,
      type: 'job.progress',
      at: AT,
      data: { ...progress, data: { tokens: 12 } },
    });
  });

  it('numbers the events of one write so the last takes the job’s new seq and earlier ones count down', () => {
    const job = makeJob({ status: 'succeeded', result: { ok: true }, updatedAt: AT, eventSeq: 7 });
    const events = eventsOfWrite({
      job,
      previousSeq: 5,
      eventTypes: ['job.progress', 'job.succeeded'],
      progressData: null,
    });
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [6, 'job.progress'],
      [7, 'job.succeeded'],
    ]);
    expect(events[1]!.data).toEqual(toJobView(job));
  });

  it('yields nothing for a write that did not advance the seq', () => {
    const job = makeJob({ eventSeq: 3 });
    expect(eventsOfWrite({ job, previousSeq: 3, eventTypes: ['job.progress'], progressData: null })).toEqual(
      [],
    );
  });

  it('refuses a write whose seq moved by a different count than the events it names', () => {
    const job = makeJob({ eventSeq: 5 });
    expect(() =>
      eventsOfWrite({ job, previousSeq: 3, eventTypes: ['job.progress'], progressData: null }),
    ).toThrow(DomainError);
  });
});

describe('isTerminalEvent', () => {
  it('is true exactly for succeeded, failed and cancelled', () => {
    expect(['job.succeeded', 'job.failed', 'job.cancelled'].every((t) => isTerminalEvent(t as never))).toBe(
      true,
    );
    expect(
      ['job.created', 'job.running', 'job.progress', 'job.input_required'].some((t) =>
        isTerminalEvent(t as never),
      ),
    ).toBe(false);
  });
});

describe('cappedProgressData', () => {
  it('keeps JSON data within the cap and treats absence as null', () => {
    expect(cappedProgressData({ a: [1, 'two'] })).toEqual({ data: { a: [1, 'two'] }, dropped: false });
    expect(cappedProgressData(undefined)).toEqual({ data: null, dropped: false });
  });

  it('drops data over the cap and says so', () => {
    const big = { text: 'x'.repeat(MAX_PROGRESS_DATA_BYTES) };
    expect(cappedProgressData(big)).toEqual({ data: null, dropped: true });
  });
});

describe('stepEventWrites', () => {
  const dataBytes = (write: StepEvent[]) =>
    write.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e.data)), 0);
  const delta = (text: string): StepEvent => ({ type: 'job.output.delta', data: { step: 1, text } });

  it('keeps small events in one write, in order', () => {
    const events: StepEvent[] = [
      delta('Hello'),
      { type: 'job.tool_call', data: { step: 1, id: 'c1', name: 'f', arguments: { a: 1 } } },
    ];
    expect(stepEventWrites(events)).toEqual([events]);
  });

  it('splits a long delta into deltas that join to its text, each write under the cap', () => {
    // Multi-byte and escaped characters count by their stored size.
    const text = 'é😀"\n'.repeat(40_000);
    const writes = stepEventWrites([delta(text)]);
    expect(writes.length).toBeGreaterThan(1);
    for (const write of writes) expect(dataBytes(write)).toBeLessThanOrEqual(MAX_STEP_EVENTS_WRITE_BYTES);
    const texts = writes.flat().map((e) => (e.data as { text: string }).text);
    expect(texts.join('')).toBe(text);
    expect(writes.flat().every((e) => (e.data as { step: number }).step === 1)).toBe(true);
  });

  it('replaces the arguments of an oversized tool call by their size', () => {
    const args = { note: 'a'.repeat(300_000) };
    const writes = stepEventWrites([
      delta('before'),
      { type: 'job.tool_call', data: { step: 2, id: 'c1', name: 'f', arguments: args } },
    ]);
    expect(writes.flat()).toEqual([
      delta('before'),
      {
        type: 'job.tool_call',
        data: {
          step: 2,
          id: 'c1',
          name: 'f',
          arguments: null,
          argumentsTruncated: { bytes: Buffer.byteLength(JSON.stringify(args)) },
        },
      },
    ]);
  });

  it('starts a new write before the events of one would pass the cap', () => {
    const third = 'x'.repeat(MAX_STEP_EVENTS_WRITE_BYTES / 3);
    const writes = stepEventWrites([delta(third), delta(third), delta(third), delta('end')]);
    expect(writes.map((w) => w.length)).toEqual([2, 2]);
  });
});
