/**
 * A JSON value's serialized size, and whether DynamoDB can store it at all. What a client or an agent hands over ends up in the job item (400 KB at most) or, when large,
 * outside it with a reference in the item (large-values.ts), so the sizes below are checked before
 * anything is written: a value that does not fit is refused with a clear error instead of failing
 * the write.
 */

/** `metadata` of a job, serialized (API contract v1.1). */
export const MAX_METADATA_BYTES = 16 * 1024;
/** An answer to an input request, serialized; a step that asks for input leaves this much room. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * JSON allows any double; DynamoDB stores magnitudes from 1e-130, and the SDK refuses to marshal
 * a number beyond 2^53 - 1 (its decimal digits past that are already lost).
 */
const storableNumber = (n: number) =>
  n === 0 || (Math.abs(n) >= 1e-130 && Math.abs(n) <= Number.MAX_SAFE_INTEGER);

/** Levels a value may nest: the job item holds it one level down, and DynamoDB allows 32. */
export const MAX_JSON_DEPTH = 30;

/** Longest map key (attribute name) DynamoDB stores, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 65_535;

/**
 * Why DynamoDB would refuse to store a JSON value (objects become maps, which have no empty keys,
 * no keys over 64 KB, and nest at most 32 levels; numbers have a narrower range). Iterative: a
 * value may nest far deeper than the call stack.
 */
export function unstorable(value: unknown): { path: PropertyKey[]; message: string } | undefined {
  const pending: Array<{ value: unknown; path: PropertyKey[] }> = [{ value, path: [] }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (typeof next.value === 'number' && !storableNumber(next.value))
      return { path: next.path, message: 'numbers must be 0 or of magnitude 1e-130 to 2^53 - 1' };
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.path.length >= MAX_JSON_DEPTH)
      return { path: next.path, message: `must not nest more than ${MAX_JSON_DEPTH} levels` };
    const isArray = Array.isArray(next.value);
    for (const [key, child] of Object.entries(next.value)) {
      if (!isArray && key === '') return { path: next.path, message: 'object keys must not be empty' };
      if (!isArray && key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES) {
        return { path: next.path, message: `object keys must be at most ${MAX_KEY_BYTES} bytes` };
      }
      pending.push({ value: child, path: [...next.path, isArray ? Number(key) : key] });
    }
  }
  return undefined;
}

/**
 * Bytes of a value serialized as JSON (undefined counts as nothing). A value JSON.stringify cannot
 * serialize (nested deeper than its stack, cyclic) is beyond any limit.
 */
export function jsonBytes(value: unknown): number {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 0 : Buffer.byteLength(text);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
