import type { JsonValue } from '../domain/job.js';
import type { ValueRef } from '../domain/large-values.js';

/**
 * Write-once JSON values too large for a table item (claim-check): `put` stores a value under a key
 * no other value ever gets and hands back its reference; `get` reads it back. Keys start with the
 * owner's prefix (e.g. a job's), so grants and lifecycle rules can be scoped by prefix. The S3
 * implementation lives in s3-large-value-store.ts, imported only by the functions that use it, so
 * no other bundle carries the S3 client.
 */
export interface LargeValueStore {
  put(prefix: string, value: JsonValue): Promise<ValueRef>;
  get(ref: ValueRef): Promise<JsonValue>;
}

/** Prefix of every object the stack writes: grants and the lifecycle rule are scoped to it. */
export const VALUES_PREFIX = 'jobs/';

/** Keys of one job's values: tenant and id are encoded, so no tenant can name another's prefix. */
export const jobValuesPrefix = (tenant: string, jobId: string) =>
  `${VALUES_PREFIX}${encodeURIComponent(tenant)}/${encodeURIComponent(jobId)}`;
