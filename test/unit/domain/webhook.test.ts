import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/config/env.js';
import type { Job, JobView } from '../../../lambdas/domain/job.js';
import { newJob, toJobView } from '../../../lambdas/domain/job.js';
import {
  attemptVerdict,
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  isWebhookEventType,
  MAX_WEBHOOK_BODY_BYTES,
  nextAttemptDelaySeconds,
  parseRetryAfter,
  parseRetrySchedule,
  webhookBody,
  webhookId,
  webhookSecretProblem,
} from '../../../lambdas/domain/webhook.js';

const T0 = new Date('2026-03-01T12:00:00.000Z');
const JOB_ID = 'job_01jd3k5q7x9v2m4n6p8r0s2t4w';
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

function view(overrides: Partial<Job> = {}): JobView {
  const job = newJob(
    JOB_ID,
    'acme',
    { agent: 'echo', input: { message: 'hi' }, timeoutSeconds: 900 },
    T0,
    T0,
  );
  return toJobView({ ...job, status: 'succeeded', result: { message: 'hi' }, ...overrides });
}

describe('event types', () => {
  it('knows the four webhook events and nothing else', () => {
    expect(isWebhookEventType('job.succeeded')).toBe(true);
    expect(isWebhookEventType('job.input_required')).toBe(true);
    expect(isWebhookEventType('job.progress')).toBe(false);
    expect(isWebhookEventType('job.created')).toBe(false);
  });
});

describe('webhookBody', () => {
  it('sends the whole job when it fits, as the exact JSON to sign', () => {
    const job = view();
    const body = webhookBody('job.succeeded', T0.toISOString(), job);
    expect(body).toBe(JSON.stringify({ type: 'job.succeeded', timestamp: T0.toISOString(), data: job }));
  });

  it('marks a job whose large values were left out (kept outside the job item) truncated, like a thin event', () => {
    const job = view({ input: null, result: null, omitted: ['input', 'result'] });
    const { data } = JSON.parse(webhookBody('job.succeeded', T0.toISOString(), job));
    expect(data).toEqual({ ...job, truncated: true });
    expect(data.omitted).toEqual(['input', 'result']);
  });

  it('sends a thin event, with the job link, when the result is too big', () => {
    const big = 'x'.repeat(50_000);
    const job = view({ result: { text: big }, input: { text: big }, metadata: { note: 'm' } });
    const body = webhookBody('job.succeeded', T0.toISOString(), job);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_WEBHOOK_BODY_BYTES);
    const { type, data } = JSON.parse(body);
    expect(type).toBe('job.succeeded');
    expect(data).toMatchObject({
      id: JOB_ID,
      status: 'succeeded',
      truncated: true,
      links: { self: `/v1/jobs/${JOB_ID}` },
      createdAt: job.createdAt,
      completedAt: job.completedAt,
    });
    expect(data.omitted).toEqual(['input', 'result', 'metadata']);
    expect(data).not.toHaveProperty('result');
    expect(data).not.toHaveProperty('input');
    expect(data).not.toHaveProperty('metadata');
  });

  it('keeps a failed job’s error and an input request’s prompt, dropping the schema', () => {
    const failed = view({
      status: 'failed',
      input: { text: 'x'.repeat(30_000) },
      error: { code: 'agent_error', message: 'boom', retryable: false },
    });
    const data = JSON.parse(webhookBody('job.failed', T0.toISOString(), failed)).data;
    expect(data.error).toEqual({ code: 'agent_error', message: 'boom', retryable: false });

    const asking = view({
      status: 'input_required',
      inputRequest: { prompt: 'Approve?', schema: { description: 'y'.repeat(30_000) } },
    });
    const asked = JSON.parse(webhookBody('job.input_required', T0.toISOString(), asking)).data;
    expect(asked.inputRequest).toEqual({ type: 'question', prompt: 'Approve?' });
    expect(asked.omitted).toContain('inputRequest.schema');
  });

  it('keeps the tool calls a waiting job asks for in a thin event while they fit', () => {
    const toolCalls = [{ id: 'call_1', name: 'lookup', arguments: { q: 'z'.repeat(12_000) } }];
    const job = view({
      status: 'input_required',
      input: { text: 'x'.repeat(15_000) },
      inputRequest: { type: 'tool_calls', prompt: 'Run the tools.', toolCalls },
    });
    const body = webhookBody('job.input_required', T0.toISOString(), job);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_WEBHOOK_BODY_BYTES);
    const { data } = JSON.parse(body);
    expect(data.truncated).toBe(true);
    expect(data.inputRequest).toEqual({ type: 'tool_calls', prompt: 'Run the tools.', toolCalls });
    expect(data.omitted).toEqual(['input', 'result', 'metadata']);
  });

  it('names tool calls too large for any body in omitted, keeping the request type', () => {
    const toolCalls = [{ id: 'call_1', name: 'lookup', arguments: { q: 'z'.repeat(30_000) } }];
    const job = view({
      status: 'input_required',
      inputRequest: { type: 'tool_calls', prompt: 'Run the tools.', toolCalls },
    });
    const body = webhookBody('job.input_required', T0.toISOString(), job);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_WEBHOOK_BODY_BYTES);
    const { data } = JSON.parse(body);
    expect(data.inputRequest).toEqual({ type: 'tool_calls', prompt: 'Run the tools.' });
    expect(data.omitted).toContain('inputRequest.toolCalls');
  });

  it('shortens long free text when dropping the bulky fields is not enough', () => {
    // Control characters are escaped as \u0001: six bytes each in the body.
    const huge = '\u0001'.repeat(40_000);
    const job = view({
      status: 'failed',
      error: { code: 'agent_error', message: huge, retryable: false },
      progress: { fraction: 0.5, step: 2, message: huge },
    });
    const body = webhookBody('job.failed', T0.toISOString(), job);
    expect(bytes(body)).toBeLessThanOrEqual(MAX_WEBHOOK_BODY_BYTES);
    const data = JSON.parse(body).data;
    expect(data.error.code).toBe('agent_error');
    expect(data.error.message.length).toBeLessThanOrEqual(501);
    expect(data.progress).toMatchObject({ fraction: 0.5, step: 2 });
    expect(data.truncated).toBe(true);
  });

  it('never splits a character outside the BMP when shortening', () => {
    const job = view({
      status: 'failed',
      error: { code: 'agent_error', message: '😀'.repeat(20_000), retryable: false },
    });
    const message: string = JSON.parse(webhookBody('job.failed', T0.toISOString(), job)).data.error.message;
    expect(message).toBe(`${'😀'.repeat(500)}…`);
  });
});

describe('webhookId', () => {
  it('is the same for the same event and different for another', () => {
    expect(webhookId(JOB_ID, 7)).toBe(webhookId(JOB_ID, 7));
    expect(webhookId(JOB_ID, 7)).not.toBe(webhookId(JOB_ID, 8));
    expect(webhookId(JOB_ID, 7)).toBe(`msg_${JOB_ID}_7`);
  });

  it('never contains a full stop, which would blur the signed id.timestamp.body', () => {
    expect(() => webhookId('job.1', 1)).toThrow(/letters, digits/);
    expect(() => webhookId(JOB_ID, 0)).toThrow();
    expect(() => webhookId(JOB_ID, 1.5)).toThrow();
  });
});

describe('parseRetrySchedule', () => {
  it('defaults when unset or empty', () => {
    expect(parseRetrySchedule(undefined)).toBe(DEFAULT_RETRY_SCHEDULE_SECONDS);
    expect(parseRetrySchedule('')).toBe(DEFAULT_RETRY_SCHEDULE_SECONDS);
    expect(DEFAULT_RETRY_SCHEDULE_SECONDS).toEqual([
      0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400,
    ]);
  });

  it('reads comma-separated whole seconds', () => {
    expect(parseRetrySchedule('0,1,2')).toEqual([0, 1, 2]);
    expect(parseRetrySchedule(' 0, 5 ,86400 ')).toEqual([0, 5, 86400]);
  });

  it.each([
    ['a', /entry 1 \("a"\) is not a whole number/],
    ['0,-1', /entry 2/],
    ['0,1.5', /entry 2/],
    ['0,,1', /entry 2/],
    ['86401', /over 86400/],
    ['99999999999', /entry 1 \(99999999999\) is over 86400/],
    [Array.from({ length: 21 }, () => '1').join(','), /21 entries, at most 20/],
  ])('refuses %j with a sentence', (text, message) => {
    expect(() => parseRetrySchedule(text)).toThrow(ConfigError);
    expect(() => parseRetrySchedule(text)).toThrow(message);
    expect(() => parseRetrySchedule(text)).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
  });
});

describe('nextAttemptDelaySeconds', () => {
  const schedule = [0, 5, 300, 86_400];

  it('follows the schedule and ends with it', () => {
    const middle = () => 0.5;
    expect(nextAttemptDelaySeconds(schedule, 0, undefined, middle)).toBe(0);
    expect(nextAttemptDelaySeconds(schedule, 1, undefined, middle)).toBe(5);
    expect(nextAttemptDelaySeconds(schedule, 2, undefined, middle)).toBe(300);
    expect(nextAttemptDelaySeconds(schedule, 4, undefined, middle)).toBeUndefined();
    expect(nextAttemptDelaySeconds(schedule, 4, 30, middle)).toBeUndefined();
  });

  it('jitters by at most a fifth either way, keeps zero at zero and never rounds a delay to zero', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r) => {
        expect(nextAttemptDelaySeconds(schedule, 0, undefined, () => r)).toBe(0);
        const delay = nextAttemptDelaySeconds(schedule, 2, undefined, () => r)!;
        expect(delay).toBeGreaterThanOrEqual(240);
        expect(delay).toBeLessThanOrEqual(360);
        expect(nextAttemptDelaySeconds([0, 1], 1, undefined, () => r)).toBeGreaterThanOrEqual(1);
      }),
    );
    expect(nextAttemptDelaySeconds(schedule, 2, undefined, () => 0)).toBe(240);
    expect(nextAttemptDelaySeconds(schedule, 2, undefined, () => 0.999999)).toBe(360);
  });

  it('honours Retry-After as a floor, capped at 24 h', () => {
    expect(nextAttemptDelaySeconds(schedule, 1, 120, () => 0.5)).toBe(120);
    expect(nextAttemptDelaySeconds(schedule, 2, 10, () => 0.5)).toBe(300);
    expect(nextAttemptDelaySeconds(schedule, 0, 7, () => 0.5)).toBe(7);
    expect(nextAttemptDelaySeconds(schedule, 1, 10 ** 9, () => 0.5)).toBe(86_400);
    expect(nextAttemptDelaySeconds(schedule, 3, undefined, () => 0.999)).toBe(86_400);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('1994-11-06T08:49:07.000Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads all three HTTP-date forms as UTC', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(30);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(30);
    expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', now)).toBe(30);
  });

  it('treats a date in the past as now', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:00:00 GMT', now)).toBe(0);
  });

  it.each([
    undefined,
    '',
    '-1',
    '1.5',
    'soon',
    'Sun, 06 Nov 1994 08:49:37 CET',
    'Sun, 32 Nov 1994 08:49:37 GMT',
  ])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('attemptVerdict', () => {
  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [410, 'gone'],
    [301, 'retry'],
    [404, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [undefined, 'retry'],
  ] as const)('%s -> %s', (status, verdict) => {
    expect(attemptVerdict(status)).toBe(verdict);
  });
});

describe('webhookSecretProblem', () => {
  const secret = (n: number) => `whsec_${randomBytes(n).toString('base64')}`;

  it('accepts 24 to 64 random bytes after whsec_', () => {
    expect(webhookSecretProblem(secret(24))).toBeUndefined();
    expect(webhookSecretProblem(secret(32))).toBeUndefined();
    expect(webhookSecretProblem(secret(64))).toBeUndefined();
  });

  it('explains what is wrong without quoting the value', () => {
    const bad = [secret(16), secret(65), secret(32).replace('whsec_', 'whsk_'), 'whsec_not base64!'];
    for (const value of bad) {
      const problem = webhookSecretProblem(value);
      expect(problem).toBeDefined();
      expect(problem).not.toContain(value.slice(6, 20));
    }
  });
});
