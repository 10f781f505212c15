import { createHash, createHmac, randomFillSync } from 'node:crypto';
import canonicalize from 'canonicalize';
import { encodeTime, TIME_LEN } from 'ulid';
import { DomainError } from './errors.js';

/** 1..255 printable ASCII characters (IETF Idempotency-Key draft leaves the syntax to the server). */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** Job ids: `job_` + 26 Crockford base32 characters, lowercase. */
export const JOB_ID_PATTERN = /^job_[0-9a-hjkmnp-tv-z]{26}$/;

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

function base32(bytes: Buffer, length: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

const RANDOM_BYTES = 10;
/** CSPRNG output for this many ids is read at once; each id takes its own 10 bytes, never reused. */
const POOLED_IDS = 128;
const entropy = Buffer.alloc(RANDOM_BYTES * POOLED_IDS);
let entropyOffset = entropy.length;

function nextRandomBytes(): Buffer {
  if (entropyOffset === entropy.length) {
    randomFillSync(entropy);
    entropyOffset = 0;
  }
  entropyOffset += RANDOM_BYTES;
  return entropy.subarray(entropyOffset - RANDOM_BYTES, entropyOffset);
}

/**
 * A ULID: 48-bit millisecond time, then 80 random bits. The package's own generator asks the
 * CSPRNG once per character; here the CSPRNG is read once per 128 ids (as node:crypto's
 * randomUUID batches its own reads), each call to it costing more than an id's whole encoding.
 */
function randomJobUlid(now: number): string {
  return `${encodeTime(now, TIME_LEN)}${base32(nextRandomBytes(), 16)}`.toLowerCase();
}

export function isValidIdempotencyKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

export function assertIdempotencyKey(key: string): void {
  if (!isValidIdempotencyKey(key)) {
    throw new DomainError(
      'validation_failed',
      'Idempotency-Key must be 1 to 255 printable ASCII characters',
      {
        errors: [{ path: 'headers.idempotency-key', message: 'must be 1..255 printable ASCII characters' }],
      },
    );
  }
}

/**
 * A new job's id: random, so no two jobs ever share one, whenever they were created. A job's id
 * names its execution, its event log and its webhook ids; an id handed out again after TTL
 * removed the first job would inherit all three (Step Functions keeps execution names for 90
 * days, receivers deduplicate by webhook id, and expired event items linger until TTL catches up).
 */
export function newJobId(now = Date.now()): string {
  return `job_${randomJobUlid(now)}`;
}

/**
 * Where an Idempotency-Key is recorded: a keyed hash of tenant and key, so the stored key item
 * says nothing of the key itself and two tenants using the same key never meet. Tenant is the
 * HMAC key.
 */
export function idempotencyKeyId(tenant: string, idempotencyKey: string): string {
  const digest = createHmac('sha256', `agent-jobs:idempotency:${tenant}`).update(idempotencyKey).digest();
  return base32(digest, 26);
}

/** Fingerprint of the request as parsed (RFC 8785 canonical JSON), so formatting never matters. */
export function requestFingerprint(request: unknown): string {
  return createHash('sha256')
    .update(canonicalize(request) ?? '')
    .digest('base64url');
}
