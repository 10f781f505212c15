import { createHash, timingSafeEqual } from 'node:crypto';
import { DomainError } from './errors.js';

/** Where a page of the tenant's job list ends: the sort key of the last job returned. */
export interface ListPosition {
  createdAt: string;
  id: string;
}

const POSITION_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function checksum(tenant: string, payload: string): Buffer {
  return createHash('sha256').update(`agent-jobs:cursor:${tenant}:${payload}`).digest().subarray(0, 16);
}

/**
 * Opaque cursor. It is bound to the tenant and checked on the way back in, so a cursor that was
 * edited or taken from another tenant is a 400. The store also rebuilds the partition key from
 * the authenticated tenant, never from the cursor, so no cursor can ever reach another's data.
 */
export function encodeCursor(tenant: string, position: ListPosition): string {
  const payload = Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
  return `${payload}.${checksum(tenant, payload).toString('base64url')}`;
}

export function decodeCursor(tenant: string, cursor: string, idPattern: RegExp): ListPosition {
  const invalid = () =>
    new DomainError('invalid_cursor', 'cursor is not valid for this list', {
      errors: [{ path: 'query.cursor', message: 'not a cursor returned by this API' }],
    });
  const [payload, mac, ...rest] = cursor.split('.');
  if (!payload || !mac || rest.length > 0 || cursor.length > 512) throw invalid();
  const expected = checksum(tenant, payload);
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    !POSITION_SHAPE.test(parsed[0]) ||
    !idPattern.test(parsed[1])
  ) {
    throw invalid();
  }
  return { createdAt: parsed[0], id: parsed[1] };
}
