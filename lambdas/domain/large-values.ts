import { DEFAULT_RETENTION, type RetentionPolicy } from './retention.js';
import { jsonBytes } from './stored-json.js';

/**
 * Which values of a job live outside its item (claim-check). DynamoDB bills a write by the whole
 * item, and every step of a job rewrites it, so a value that is written once and read rarely
 * (input, metadata, result) or is large (agent state, an answer) would be paid for again on every
 * step. Values over the threshold are stored as objects, and the item keeps a reference to them.
 */

/**
 * Serialized bytes up to which a value stays in the item. At DynamoDB's on-demand price one object
 * write costs about as much as 8 KB of item writes, and a job's item is written a handful of times
 * (submit, start, each step, the end): below ~2 KiB keeping the value inline is the cheaper and
 * faster choice, and a small submit stays one conditional PutItem.
 */
export const INLINE_MAX_BYTES = 2 * 1024;

/** Largest value kept at all (API contract v1.1: a result up to 5 MiB is stored and returned whole). */
export const MAX_LARGE_VALUE_BYTES = 5 * 1024 * 1024;

/** The job values that may live outside the item. */
export const LARGE_VALUE_NAMES = ['input', 'metadata', 'result', 'agentState', 'answer'] as const;
export type LargeValueName = (typeof LARGE_VALUE_NAMES)[number];

/** Where an out-of-item value is: written once under a key never reused, so it never changes. */
export interface ValueRef {
  key: string;
  bytes: number;
}

/** The item attribute that holds the reference of a value stored outside it. */
export const refAttribute = (name: LargeValueName) => `${name}Ref` as const;

/** Whether a value is kept outside the item; its serialized size decides. */
export const belongsOutside = (value: unknown) => jsonBytes(value) > INLINE_MAX_BYTES;

/**
 * Days a stored value must be kept: the longest a job referring to it can exist (its longest run
 * plus the live backstop, then the longer of the two terminal retentions), plus a day of margin
 * for TTL and lifecycle timing. A redriven job stores its values again, so its clock restarts.
 */
export function valuesExpiryDays(
  policy: Pick<RetentionPolicy, 'succeededDays' | 'failedDays'> & Partial<RetentionPolicy>,
  maxJobTimeoutSeconds: number,
): number {
  const backstop = policy.liveBackstopDays ?? DEFAULT_RETENTION.liveBackstopDays;
  const run = Math.ceil(maxJobTimeoutSeconds / 86_400);
  return run + backstop + Math.max(policy.succeededDays, policy.failedDays) + 1;
}
