import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { firstFailure } from '../../../lambdas/local/stream-poller.js';
import { toLambdaRecord } from '../../../lambdas/local/stream-records.js';

const STREAM = 'arn:aws:dynamodb:ddblocal:000000000000:table/JobsTable/stream/2026-11-22T00:00:00.000';

describe('toLambdaRecord', () => {
  it('builds the record Lambda delivers', () => {
    const sdk: _Record = {
      eventID: 'e1',
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      awsRegion: 'ddblocal',
      dynamodb: {
        ApproximateCreationDateTime: new Date('2026-11-22T10:00:00.700Z'),
        Keys: { PK: { S: 'T#a#J#1' } },
        NewImage: {
          PK: { S: 'T#a#J#1' },
          n: { N: '3' },
          raw: { B: Uint8Array.from([1, 2, 3]) },
          m: { M: { ok: { BOOL: true } } },
        },
        SequenceNumber: '100',
        SizeBytes: 42,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
    expect(toLambdaRecord(sdk, STREAM)).toEqual({
      eventID: 'e1',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: STREAM,
      dynamodb: {
        ApproximateCreationDateTime: 1795341600,
        Keys: { PK: { S: 'T#a#J#1' } },
        NewImage: {
          PK: { S: 'T#a#J#1' },
          n: { N: '3' },
          raw: { B: 'AQID' },
          m: { M: { ok: { BOOL: true } } },
        },
        SequenceNumber: '100',
        SizeBytes: 42,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  });

  it('leaves out what the stream did not send, and names TTL deletions', () => {
    const out = toLambdaRecord(
      {
        eventName: 'REMOVE',
        dynamodb: { Keys: { PK: { S: 'x' } }, SequenceNumber: '7' },
        userIdentity: { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' },
      },
      STREAM,
    );
    expect(out.dynamodb).toEqual({ Keys: { PK: { S: 'x' } }, SequenceNumber: '7' });
    expect(out.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
    expect('OldImage' in out.dynamodb!).toBe(false);
  });
});

describe('firstFailure', () => {
  const records = ['1', '2', '3'].map((n) => ({ dynamodb: { SequenceNumber: n } }) as DynamoDBRecord);

  it('is -1 when nothing failed', () => {
    expect(firstFailure(records, undefined)).toBe(-1);
    expect(firstFailure(records, { batchItemFailures: [] })).toBe(-1);
  });

  it('restarts from the earliest failed record', () => {
    expect(
      firstFailure(records, { batchItemFailures: [{ itemIdentifier: '3' }, { itemIdentifier: '2' }] }),
    ).toBe(1);
  });

  it('fails the whole batch on an identifier it does not know', () => {
    expect(
      firstFailure(records, { batchItemFailures: [{ itemIdentifier: '3' }, { itemIdentifier: '' }] }),
    ).toBe(0);
  });
});
