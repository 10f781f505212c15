import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { decodeTime, isValid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../lambdas/domain/errors.js';
import {
  assertIdempotencyKey,
  isValidIdempotencyKey,
  idempotencyKeyId,
  JOB_ID_PATTERN,
  newJobId,
  requestFingerprint,
} from '../../../lambdas/domain/idempotency.js';

describe('idempotencyKeyId', () => {
  it('is the same for the same tenant and key', () => {
    expect(idempotencyKeyId('acme', 'key-1')).toBe(idempotencyKeyId('acme', 'key-1'));
  });

  it('differs between tenants using the same key', () => {
    expect(idempotencyKeyId('acme', 'key-1')).not.toBe(idempotencyKeyId('globex', 'key-1'));
  });

  it('differs between keys of one tenant', () => {
    expect(idempotencyKeyId('acme', 'key-1')).not.toBe(idempotencyKeyId('acme', 'key-2'));
  });

  it('is not fooled by moving characters between tenant and key', () => {
    expect(idempotencyKeyId('acme', 'x:y')).not.toBe(idempotencyKeyId('acme:x', 'y'));
  });

  it('is the Crockford base32 of the first 130 bits of HMAC-SHA256(tenant-scoped secret, key)', () => {
    const digest = createHmac('sha256', 'agent-jobs:idempotency:acme').update('order-42').digest();
    const top130 = BigInt(`0x${digest.toString('hex')}`) >> BigInt(256 - 130);
    const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
    let expected = '';
    for (let i = 25; i >= 0; i--) expected += alphabet[Number((top130 >> BigInt(i * 5)) & 31n)];
    expect(idempotencyKeyId('acme', 'order-42')).toBe(expected);
  });
});

describe('newJobId', () => {
  it('matches JOB_ID_PATTERN', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (t) => {
        expect(newJobId(t)).toMatch(JOB_ID_PATTERN);
      }),
    );
  });

  it('gives a fresh random part per call, across refills of the entropy pool', () => {
    // Several pools' worth (128 ids each): no 80-bit random part is handed out twice.
    const randomParts = new Set(Array.from({ length: 400 }, () => newJobId().slice('job_'.length + 10)));
    expect(randomParts.size).toBe(400);
  });

  it('gives a ULID of the current time, so ids sort by creation', () => {
    const before = Date.now();
    const id = newJobId().slice('job_'.length);
    expect(isValid(id.toUpperCase())).toBe(true);
    expect(decodeTime(id.toUpperCase())).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id.toUpperCase())).toBeLessThanOrEqual(Date.now());
  });
});

describe('Idempotency-Key validation', () => {
  it.each([
    ['1 char', 'a', true],
    ['255 chars', 'k'.repeat(255), true],
    ['printable punctuation and spaces', ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', true],
    ['empty', '', false],
    ['256 chars', 'k'.repeat(256), false],
    ['a newline', 'abc\n', false],
    ['a tab', 'a\tb', false],
    ['a NUL', 'a\u0000b', false],
    ['DEL', 'a\u007fb', false],
    ['non-ASCII', 'clé', false],
  ])('%s -> %s', (_name, key, valid) => {
    expect(isValidIdempotencyKey(key)).toBe(valid);
    if (valid) {
      expect(() => assertIdempotencyKey(key)).not.toThrow();
    } else {
      let thrown: unknown;
      try {
        assertIdempotencyKey(key);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(DomainError);
      expect((thrown as DomainError).code).toBe('validation_failed');
      expect((thrown as DomainError).errors).toEqual([
        { path: 'headers.idempotency-key', message: expect.any(String) },
      ]);
    }
  });
});

describe('requestFingerprint', () => {
  it('does not depend on key order or formatting', () => {
    const a = JSON.parse('{"agent":"echo","input":{"message":"hi","steps":2},"metadata":{"x":1,"y":[1,2]}}');
    const b = JSON.parse(`{
      "metadata": { "y": [1, 2], "x": 1 },
      "input":    { "steps": 2, "message": "hi" },
      "agent": "echo"
    }`);
    expect(requestFingerprint(a)).toBe(requestFingerprint(b));
  });

  it('treats equal numbers written differently as equal', () => {
    expect(requestFingerprint(JSON.parse('{"n":1.0}'))).toBe(requestFingerprint(JSON.parse('{"n":1}')));
  });

  it('differs for different bodies', () => {
    const base = { agent: 'echo', input: { message: 'hi' } };
    const fp = requestFingerprint(base);
    expect(requestFingerprint({ agent: 'echo', input: { message: 'ho' } })).not.toBe(fp);
    expect(requestFingerprint({ ...base, metadata: {} })).not.toBe(fp);
    expect(requestFingerprint({ agent: 'echo', input: ['hi'] })).not.toBe(fp);
    expect(requestFingerprint({ agent: 'echo', input: { message: 'hi' }, timeoutSeconds: 5 })).not.toBe(fp);
  });

  it('property: any JSON value and a key-shuffled copy share a fingerprint; different values do not', () => {
    const shuffle = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(shuffle);
      if (v && typeof v === 'object') {
        return Object.fromEntries(
          Object.entries(v)
            .reverse()
            .map(([k, x]) => [k, shuffle(x)]),
        );
      }
      return v;
    };
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        const fa = requestFingerprint(a);
        expect(requestFingerprint(shuffle(a))).toBe(fa);
        const same =
          requestFingerprint(JSON.parse(JSON.stringify(b))) ===
          requestFingerprint(JSON.parse(JSON.stringify(a)));
        const equal = JSON.stringify(shuffle(sortKeys(a))) === JSON.stringify(shuffle(sortKeys(b)));
        expect(same).toBe(equal);
      }),
    );
  });
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  if (Object.is(v, -0)) return 0;
  return v;
}
