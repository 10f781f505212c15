import { describe, expect, it } from 'vitest';
import { compileFilterCriteria } from '../../../lambdas/local/filter-criteria.js';

/** The patterns of the jobs stream mapping: job inserts, and job updates to pending or cancelled. */
const matcher = compileFilterCriteria({
  Filters: [
    { Pattern: JSON.stringify({ eventName: ['INSERT'], dynamodb: { Keys: { SK: { S: ['JOB'] } } } }) },
    {
      Pattern: JSON.stringify({
        eventName: ['MODIFY'],
        dynamodb: { Keys: { SK: { S: ['JOB'] } }, NewImage: { status: { S: ['pending', 'cancelled'] } } },
      }),
    },
  ],
});

const record = (eventName: string, sk: string, status?: string) => ({
  eventName,
  dynamodb: {
    Keys: { PK: { S: 'T#a#J#1' }, SK: { S: sk } },
    ...(status ? { NewImage: { status: { S: status } } } : {}),
  },
});

describe('compileFilterCriteria', () => {
  it('passes records that match any filter', () => {
    expect(matcher(record('INSERT', 'JOB'))).toBe(true);
    expect(matcher(record('MODIFY', 'JOB', 'cancelled'))).toBe(true);
  });

  it('drops records no filter matches', () => {
    expect(matcher(record('INSERT', 'KEY'))).toBe(false);
    expect(matcher(record('MODIFY', 'JOB', 'running'))).toBe(false);
    expect(matcher(record('MODIFY', 'JOB'))).toBe(false);
    expect(matcher(record('REMOVE', 'JOB'))).toBe(false);
  });

  it('passes everything without filters', () => {
    expect(compileFilterCriteria(undefined)({ anything: 1 })).toBe(true);
  });

  it('supports exists, prefix and anything-but', () => {
    const m = compileFilterCriteria({
      Filters: [
        {
          Pattern: JSON.stringify({
            a: [{ exists: true }],
            b: [{ prefix: 'jo' }],
            c: [{ 'anything-but': ['x'] }],
          }),
        },
      ],
    });
    expect(m({ a: 1, b: 'job', c: 'y' })).toBe(true);
    expect(m({ b: 'job', c: 'y' })).toBe(false);
    expect(m({ a: 1, b: 'key', c: 'y' })).toBe(false);
    expect(m({ a: 1, b: 'job', c: 'x' })).toBe(false);
  });

  it('refuses operators it does not implement, rather than letting records through', () => {
    expect(() =>
      compileFilterCriteria({ Filters: [{ Pattern: JSON.stringify({ n: [{ numeric: ['>', 1] }] }) }] }),
    ).toThrow(/not supported/);
  });
});
