import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../../lambdas/domain/cursor.js';
import { DomainError } from '../../../lambdas/domain/errors.js';
import { JOB_ID_PATTERN } from '../../../lambdas/domain/idempotency.js';

const position = { createdAt: '2025-03-01T12:00:00.123Z', id: 'job_01jd3k5q7x9v2m4n6p8r0s2t4w' };

function decodeError(tenant: string, cursor: string): DomainError {
  try {
    decodeCursor(tenant, cursor, JOB_ID_PATTERN);
  } catch (e) {
    return e as DomainError;
  }
  throw new Error(`cursor ${JSON.stringify(cursor)} was accepted`);
}

function expectInvalid(tenant: string, cursor: string) {
  const error = decodeError(tenant, cursor);
  expect(error).toBeInstanceOf(DomainError);
  expect(error.code).toBe('invalid_cursor');
  expect(error.errors).toEqual([{ path: 'query.cursor', message: expect.any(String) }]);
}

/** Flips one character of the given part to another base64url character. */
function edit(part: string, at: number): string {
  const c = part[at];
  return `${part.slice(0, at)}${c === 'A' ? 'B' : 'A'}${part.slice(at + 1)}`;
}

describe('list cursor', () => {
  it('round-trips a position for the same tenant', () => {
    const cursor = encodeCursor('acme', position);
    expect(decodeCursor('acme', cursor, JOB_ID_PATTERN)).toEqual(position);
  });

  it('is URL-safe and opaque', () => {
    const cursor = encodeCursor('acme', position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain(position.id);
  });

  it("rejects another tenant's cursor", () => {
    expectInvalid('globex', encodeCursor('acme', position));
  });

  it('rejects an edited payload', () => {
    const [payload, mac] = encodeCursor('acme', position).split('.') as [string, string];
    for (const at of [0, Math.floor(payload.length / 2), payload.length - 1])
      expectInvalid('acme', `${edit(payload, at)}.${mac}`);
  });

  it('rejects a payload re-encoded with another position but the old checksum', () => {
    const [, mac] = encodeCursor('acme', position).split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify(['2099-01-01T00:00:00Z', position.id])).toString('base64url');
    expectInvalid('acme', `${forged}.${mac}`);
  });

  it('rejects an edited checksum', () => {
    const [payload, mac] = encodeCursor('acme', position).split('.') as [string, string];
    expectInvalid('acme', `${payload}.${edit(mac, 0)}`);
    expectInvalid('acme', `${payload}.${mac.slice(0, -2)}`);
    expectInvalid('acme', `${payload}.${mac}AA`);
  });

  it.each([
    ['empty', ''],
    ['no dot', 'abcdef'],
    ['empty payload', '.abc'],
    ['empty checksum', 'abc.'],
    ['three parts', 'a.b.c'],
    ['garbage', '%%%not-a-cursor%%%'],
    ['too long', `${'a'.repeat(600)}.${'b'.repeat(22)}`],
  ])('rejects %s', (_name, cursor) => {
    expectInvalid('acme', cursor);
  });

  it('rejects a correctly signed cursor whose content is not a position', () => {
    for (const bad of [
      { createdAt: 'yesterday', id: position.id },
      { createdAt: position.createdAt, id: 'job_NOT-AN-ID' },
      { createdAt: position.createdAt, id: '../../T#globex' },
    ]) {
      expectInvalid('acme', encodeCursor('acme', bad));
    }
  });

  it('property: random strings never decode', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (s) => {
        expect(decodeError('acme', s).code).toBe('invalid_cursor');
      }),
      { numRuns: 500 },
    );
  });

  it('property: random base64url pairs never decode', () => {
    const part = fc.stringMatching(/^[A-Za-z0-9_-]{1,120}$/);
    fc.assert(
      fc.property(part, part, (p, m) => {
        expect(decodeError('acme', `${p}.${m}`).code).toBe('invalid_cursor');
      }),
      { numRuns: 500 },
    );
  });

  it('property: every position round-trips and is bound to its tenant', () => {
    const ts = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2200-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString());
    const id = fc.stringMatching(/^[0-9a-hjkmnp-tv-z]{26}$/).map((s) => `job_${s}`);
    const tenant = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,10}$/);
    fc.assert(
      fc.property(ts, id, tenant, tenant, (createdAt, jobId, t1, t2) => {
        const cursor = encodeCursor(t1, { createdAt, id: jobId });
        expect(decodeCursor(t1, cursor, JOB_ID_PATTERN)).toEqual({ createdAt, id: jobId });
        if (t1 !== t2) expect(decodeError(t2, cursor).code).toBe('invalid_cursor');
      }),
      { numRuns: 200 },
    );
  });
});
