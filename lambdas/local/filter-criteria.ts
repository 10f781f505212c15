/**
 * Lambda event filtering (the event-pattern subset our event source mappings use), applied before a
 * batch is built so the local stream consumer sees exactly the records Lambda would deliver.
 * Operators we do not implement fail loudly instead of letting records through.
 */
export interface FilterCriteria {
  Filters?: Array<{ Pattern?: string }>;
}

type Pattern = { [key: string]: Pattern | unknown[] };

export type RecordMatcher = (record: unknown) => boolean;

export function compileFilterCriteria(criteria: FilterCriteria | undefined): RecordMatcher {
  const patterns = (criteria?.Filters ?? []).map((f) => JSON.parse(f.Pattern ?? '{}') as Pattern);
  for (const p of patterns) assertSupported(p);
  if (patterns.length === 0) return () => true;
  return (record) => patterns.some((p) => matches(p, record));
}

/** A record matches when every key of the pattern matches; filters are OR-ed by the caller. */
function matches(pattern: Pattern, value: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = isObject(value) ? value[key] : undefined;
    if (Array.isArray(expected)) return expected.some((rule) => matchesRule(rule, actual));
    return isObject(actual) && matches(expected as Pattern, actual);
  });
}

function matchesRule(rule: unknown, actual: unknown): boolean {
  if (!isObject(rule)) {
    return Array.isArray(actual) ? actual.some((a) => a === rule) : actual === rule;
  }
  const values = Array.isArray(actual) ? actual : [actual];
  if ('exists' in rule) return rule.exists === (actual !== undefined);
  if ('prefix' in rule) return values.some((v) => typeof v === 'string' && v.startsWith(String(rule.prefix)));
  const excluded = [rule['anything-but']].flat();
  return actual !== undefined && values.every((v) => !excluded.includes(v));
}

const SUPPORTED_OPERATORS = new Set(['exists', 'prefix', 'anything-but']);

function assertSupported(pattern: Pattern): void {
  for (const expected of Object.values(pattern)) {
    if (!Array.isArray(expected)) {
      assertSupported(expected as Pattern);
      continue;
    }
    for (const rule of expected.filter(isObject)) {
      const unsupported = Object.keys(rule).filter((op) => !SUPPORTED_OPERATORS.has(op));
      if (unsupported.length > 0 || Object.keys(rule).length !== 1) {
        throw new Error(
          `filter pattern operator ${JSON.stringify(rule)} is not supported by the local stack`,
        );
      }
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
