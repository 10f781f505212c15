import { ConfigError } from '../config/env.js';
import type { JobView } from './job.js';

/**
 * Webhooks follow Standard Webhooks (API contract, "Webhooks"): what is sent, under which id, and
 * when it is tried again. Signing and the HTTP exchange live in the sender adapter; this module is
 * the part that needs no network and no clock of its own.
 */

export const WEBHOOK_EVENT_TYPES = [
  'job.succeeded',
  'job.failed',
  'job.cancelled',
  'job.input_required',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(type: string): type is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);
}

/** Standard Webhooks recommends bodies under 20 KB; bigger results are fetched through the job's link. */
export const MAX_WEBHOOK_BODY_BYTES = 20_000;

/** Longest free text (error message, input prompt, progress message) a thin event keeps. */
const THIN_TEXT_CHARS = 500;

/** Fields a thin event drops: the ones whose size the client, an agent or a model decides. */
const BULKY_FIELDS = ['input', 'result', 'metadata'] as const;

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

const serialize = (type: WebhookEventType, timestamp: string, data: unknown) =>
  JSON.stringify({ type, timestamp, data });

/** Cut by code points, so a character outside the BMP is never split into a lone surrogate. */
function shorten(text: string | null, max: number): string | null {
  if (text === null || text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max).join('')}…`;
}

/**
 * The job without what can be large, marked `truncated` and naming what it left out, so a receiver
 * knows to GET `links.self` instead of taking a missing result for an empty one. `textMax` limits
 * the free text the job still carries.
 */
function thinJob(job: JobView, textMax: number, keepToolCalls: boolean) {
  const text = (value: string | null) => shorten(value, textMax);
  const omitted: string[] = [...BULKY_FIELDS];
  if (job.inputRequest?.schema !== undefined) omitted.push('inputRequest.schema');
  const toolCalls = job.inputRequest?.toolCalls;
  if (toolCalls !== undefined && !keepToolCalls) omitted.push('inputRequest.toolCalls');
  return {
    id: job.id,
    agent: job.agent,
    status: job.status,
    attempt: job.attempt,
    progress: {
      fraction: job.progress.fraction,
      step: job.progress.step,
      message: text(job.progress.message),
    },
    error: job.error && { ...job.error, message: text(job.error.message) ?? '' },
    inputRequest: job.inputRequest && {
      ...(job.inputRequest.type === undefined ? {} : { type: job.inputRequest.type }),
      prompt: text(job.inputRequest.prompt) ?? '',
      ...(toolCalls !== undefined && keepToolCalls ? { toolCalls } : {}),
    },
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    completedAt: job.completedAt,
    expiresAt: job.expiresAt,
    links: job.links,
    truncated: true,
    omitted,
  };
}

/**
 * The Standard Webhooks body `{type, timestamp, data: <job>}` as the exact string that is signed
 * and sent (the signature covers these bytes, so nothing may re-serialize it). Over
 * MAX_WEBHOOK_BODY_BYTES it becomes a thin event: without input, result, metadata and the input
 * schema, then also without the input request's tool calls, and if that is still too big, with
 * long free text shortened too. Three texts of
 * THIN_TEXT_CHARS, even at six bytes per escaped character, plus the job's short identity,
 * timestamps and links stay far below the limit, so the body always fits.
 */
export function webhookBody(type: WebhookEventType, timestamp: string, job: JobView): string {
  // Values kept outside the job item are already left out (named in `omitted`): marked like a thin event.
  const full = serialize(type, timestamp, job.omitted ? { ...job, truncated: true } : job);
  if (byteLength(full) <= MAX_WEBHOOK_BODY_BYTES) return full;
  // The tool calls a waiting job asks the client to run are what the receiver acts on: kept if they fit.
  for (const keepToolCalls of [true, false]) {
    const thin = serialize(type, timestamp, thinJob(job, Number.POSITIVE_INFINITY, keepToolCalls));
    if (byteLength(thin) <= MAX_WEBHOOK_BODY_BYTES) return thin;
  }
  return serialize(type, timestamp, thinJob(job, THIN_TEXT_CHARS, false));
}

/**
 * Stable per event: the same job event always gets the same id, on every retry and every replay,
 * because receivers de-duplicate on it. Standard Webhooks signs `id.timestamp.body`, so the id must
 * never contain a `.`; job ids are `job_` plus base32, which never does.
 */
export function webhookId(jobId: string, eventSeq: number): string {
  if (!/^[A-Za-z0-9_-]+$/.test(jobId) || !Number.isInteger(eventSeq) || eventSeq < 1) {
    throw new Error('a webhook id needs a job id of letters, digits, _ or - and a positive event seq');
  }
  return `msg_${jobId}_${eventSeq}`;
}

/** Standard Webhooks' example schedule: the first attempt at once, the last about three days later. */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = Object.freeze([
  0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400,
]);

export const MAX_RETRY_DELAY_SECONDS = 86_400;
export const MAX_DELIVERY_ATTEMPTS = 20;

/**
 * Parses WEBHOOK_RETRY_SCHEDULE, e.g. `0,1,2`: the seconds to wait before each attempt, the first
 * entry being the first attempt. Tests and the local stack compress the schedule this way, so the
 * same code paths run everywhere. Unset or empty means the default; anything malformed fails the
 * cold start with a sentence rather than scheduling nonsense.
 */
export function parseRetrySchedule(text: string | undefined): readonly number[] {
  if (text === undefined || text.trim() === '') return DEFAULT_RETRY_SCHEDULE_SECONDS;
  const entries = text.split(',').map((entry) => entry.trim());
  const problem = (detail: string) =>
    new ConfigError(
      `WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds (e.g. "0,5,300"): ${detail}`,
    );
  if (entries.length > MAX_DELIVERY_ATTEMPTS) {
    throw problem(`${entries.length} entries, at most ${MAX_DELIVERY_ATTEMPTS} allowed`);
  }
  return Object.freeze(
    entries.map((entry, i) => {
      if (!/^\d+$/.test(entry)) throw problem(`entry ${i + 1} ("${entry}") is not a whole number`);
      const seconds = Number(entry);
      if (seconds > MAX_RETRY_DELAY_SECONDS) {
        throw problem(`entry ${i + 1} (${seconds}) is over ${MAX_RETRY_DELAY_SECONDS} (24 h)`);
      }
      return seconds;
    }),
  );
}

/** How far a delay may move either way: enough to spread a burst, small enough to keep the schedule. */
const JITTER_FRACTION = 0.2;

/**
 * Seconds to wait before the next attempt after `attemptsMade` attempts, or undefined once the
 * schedule is exhausted (the delivery has failed).
 *
 * Jitter is proportional, ±20 % of the scheduled delay. When a receiver has an outage, every
 * delivery to it fails at about the same moment; without jitter they would all come back in one
 * burst at each step and could knock it over again. Full jitter (anywhere in 0..delay) would spread
 * them more but could turn "retry in 5 minutes" into "retry now", so the schedule a tenant reads in
 * the docs would mean little. A zero delay stays zero (the first attempt goes at once) and a
 * non-zero one never rounds down to zero.
 *
 * A `Retry-After` from a 429 or 503 raises the delay to at least what the receiver asked for; the
 * result never exceeds 24 h, so a receiver cannot park a delivery forever.
 */
export function nextAttemptDelaySeconds(
  schedule: readonly number[],
  attemptsMade: number,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number | undefined {
  const scheduled = schedule[attemptsMade];
  if (scheduled === undefined) return undefined;
  const jittered =
    scheduled === 0 ? 0 : Math.max(1, Math.round(scheduled * (1 + JITTER_FRACTION * (2 * random() - 1))));
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.max(jittered, retryAfterSeconds ?? 0));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(?<month>${MONTHS.join('|')})`;
const TIME = '(?<hour>\\d{2}):(?<minute>\\d{2}):(?<second>\\d{2})';

/** The three HTTP-date forms RFC 9110 §5.6.7 says a recipient must accept; all are UTC. */
const HTTP_DATES = [
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  new RegExp(`^${DAY}, (?<day>\\d{2}) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`),
  // obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
  new RegExp(`^${LONG_DAY}, (?<day>\\d{2})-${MONTH}-(?<year>\\d{2}) ${TIME} GMT$`),
  // obsolete asctime: Sun Nov  6 08:49:37 1994
  new RegExp(`^${DAY} ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`),
];

function parseHttpDate(value: string, now: Date): number | undefined {
  for (const pattern of HTTP_DATES) {
    const g = pattern.exec(value)?.groups;
    if (!g) continue;
    let year = Number(g.year);
    if (g.year?.length === 2) {
      // RFC 9110: a two-digit year more than 50 years in the future means the past century.
      year += 2000;
      if (year > now.getUTCFullYear() + 50) year -= 100;
    }
    const [day, hour, minute, second] = [g.day, g.hour, g.minute, g.second].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
    return Date.UTC(year, MONTHS.indexOf(g.month ?? ''), day, hour, minute, second);
  }
  return undefined;
}

/**
 * Retry-After (RFC 9110 §10.2.3) as delta-seconds or an HTTP-date, in whole seconds from `now`
 * (a date in the past is 0), or undefined when absent or unparseable. Dates are parsed by their
 * grammar rather than Date.parse, which would read the zone-less asctime form as local time.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  const at = parseHttpDate(text, now);
  if (at === undefined || Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

export type AttemptVerdict = 'delivered' | 'gone' | 'retry';

/**
 * What one attempt means (Standard Webhooks, "Delivery success and failure"): any 2xx is delivered;
 * 410 Gone says the receiver wants no more, so retrying stops; everything else, redirects included,
 * and no answer at all (network error, timeout: `undefined`) is tried again.
 */
export function attemptVerdict(httpStatus: number | undefined): AttemptVerdict {
  if (httpStatus === undefined) return 'retry';
  if (httpStatus >= 200 && httpStatus <= 299) return 'delivered';
  return httpStatus === 410 ? 'gone' : 'retry';
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  at: string;
  httpStatus?: number;
  error?: string;
  durationMs: number;
}

const SECRET_PREFIX = 'whsec_';
/** Standard Webhooks: a symmetric secret is 24 to 64 random bytes. */
const SECRET_MIN_BYTES = 24;
const SECRET_MAX_BYTES = 64;

/**
 * Why a string is not a usable Standard Webhooks secret (`whsec_` + base64 of 24..64 bytes), or
 * undefined when it is. The answer never quotes the value: it goes into errors and logs.
 */
export function webhookSecretProblem(secret: string): string | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return `it must start with "${SECRET_PREFIX}"`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return `the part after "${SECRET_PREFIX}" must be standard base64`;
  }
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < SECRET_MIN_BYTES || bytes > SECRET_MAX_BYTES) {
    return `it must encode ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes, not ${bytes}`;
  }
  return undefined;
}
