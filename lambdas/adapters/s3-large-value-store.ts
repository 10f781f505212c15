import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { ENV } from '../config/env.js';
import { DomainError } from '../domain/errors.js';
import type { JsonValue } from '../domain/job.js';
import type { ValueRef } from '../domain/large-values.js';
import type { LargeValueStore } from './large-value-store.js';

/** Values read lately, by key; a key is never rewritten, so a cached value is never stale. */
class ValueCache {
  private readonly entries = new Map<string, { value: JsonValue; bytes: number }>();
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get(key: string): JsonValue | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    // Most recently used last, so eviction takes the oldest first.
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: string, value: JsonValue, bytes: number): void {
    if (bytes > this.budgetBytes) return;
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }
}

/** What a warm function keeps of the values it read: a step re-reads its job's input every step. */
const CACHE_BUDGET_BYTES = 16 * 1024 * 1024;

let sharedClient: Promise<S3Client> | undefined;

/**
 * One S3 client per container, created on first use: most requests carry no large value, and a
 * function that never stores one never loads the client.
 */
function s3Client(): Promise<S3Client> {
  sharedClient ??= import('./s3-values-client.js').then(({ newS3Client }) => newS3Client());
  return sharedClient;
}

export class S3LargeValueStore implements LargeValueStore {
  private readonly cache = new ValueCache(CACHE_BUDGET_BYTES);

  constructor(
    private readonly bucket: string,
    private readonly client: () => Promise<S3Client> = s3Client,
  ) {}

  async put(prefix: string, value: JsonValue): Promise<ValueRef> {
    const { PutObjectCommand } = await import('./s3-values-client.js');
    const body = JSON.stringify(value);
    const key = `${prefix}/${randomUUID()}.json`;
    await (
      await this.client()
    ).send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
    const bytes = Buffer.byteLength(body);
    this.cache.set(key, value, bytes);
    return { key, bytes };
  }

  async get(ref: ValueRef): Promise<JsonValue> {
    const cached = this.cache.get(ref.key);
    if (cached !== undefined) return cached;
    const { GetObjectCommand, NoSuchKey } = await import('./s3-values-client.js');
    let text: string;
    try {
      const out = await (
        await this.client()
      ).send(new GetObjectCommand({ Bucket: this.bucket, Key: ref.key }));
      text = await out.Body!.transformToString('utf8');
    } catch (e) {
      if (e instanceof NoSuchKey || (e as Error)?.name === 'NoSuchKey') {
        throw new DomainError('internal_error', 'a stored value of this job is missing', { cause: e });
      }
      throw e;
    }
    const value = JSON.parse(text) as JsonValue;
    this.cache.set(ref.key, value, ref.bytes);
    return value;
  }
}

/** The store of the bucket the function was given, or undefined for a function given none. */
export function largeValueStoreFromEnv(env: NodeJS.ProcessEnv = process.env): LargeValueStore | undefined {
  const bucket = env[ENV.valuesBucket];
  return bucket ? new S3LargeValueStore(bucket) : undefined;
}
