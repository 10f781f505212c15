import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record,
  type OperationType,
} from '@aws-sdk/client-dynamodb-streams';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobsInStreamBatch } from '../../../lambdas/adapters/stream-batch.js';

const STREAM_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs/stream/2026-11-22T00:00:00.000';
const INFO = {
  streamArn: STREAM_ARN,
  shardId: 'shardId-0001',
  startSequenceNumber: '9800',
  endSequenceNumber: '10200',
};
const streams = new DynamoDBStreamsClient({ region: 'us-east-1' });
const mock = mockClient(streams);

/** A stream record of a write to an item, as DynamoDB Streams returns it. */
function record(
  seq: string,
  item: { tenant: string; id: string; SK?: string },
  eventName: OperationType = 'INSERT',
): _Record {
  const image = {
    PK: { S: `T#${item.tenant}#J#${item.id}` },
    SK: { S: item.SK ?? 'JOB' },
    tenant: { S: item.tenant },
    id: { S: item.id },
  };
  return { eventName, dynamodb: { SequenceNumber: seq, NewImage: image } };
}

beforeEach(() => {
  mock.reset();
  mock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
});

describe('jobsInStreamBatch', () => {
  it('reads from the first record of the batch and names each job once, up to the last record', async () => {
    mock
      .on(GetRecordsCommand, { ShardIterator: 'it-1' })
      .resolves({
        Records: [
          record('9800', { tenant: 'a', id: 'job_1' }),
          record('9900', { tenant: 'a', id: 'job_1' }, 'MODIFY'),
          record('9950', { tenant: 'a', id: 'job_1', SK: 'E#0000000001' }),
        ],
        NextShardIterator: 'it-2',
      })
      .on(GetRecordsCommand, { ShardIterator: 'it-2' })
      .resolves({
        Records: [
          record('10200', { tenant: 'b', id: 'job_2' }),
          record('10201', { tenant: 'c', id: 'job_3' }),
        ],
        NextShardIterator: 'it-3',
      });

    expect(await jobsInStreamBatch(streams, INFO)).toEqual([
      { tenant: 'a', jobId: 'job_1' },
      { tenant: 'b', jobId: 'job_2' },
    ]);
    expect(mock.commandCalls(GetShardIteratorCommand)[0]?.args[0].input).toEqual({
      StreamArn: STREAM_ARN,
      ShardId: 'shardId-0001',
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: '9800',
    });
    // 10201 ended the read: no third call.
    expect(mock.commandCalls(GetRecordsCommand)).toHaveLength(2);
  });

  it('compares sequence numbers as numbers, not as text', async () => {
    mock.on(GetRecordsCommand).resolves({
      Records: [record('9900', { tenant: 'a', id: 'job_1' }), record('10000', { tenant: 'a', id: 'job_2' })],
    });
    expect(await jobsInStreamBatch(streams, INFO)).toHaveLength(2);
  });

  it('stops at the end of a closed shard, and after a bounded number of empty reads on an open one', async () => {
    mock.on(GetRecordsCommand).resolves({ Records: [record('9800', { tenant: 'a', id: 'job_1' })] });
    expect(await jobsInStreamBatch(streams, INFO)).toEqual([{ tenant: 'a', jobId: 'job_1' }]);

    mock.reset();
    mock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    mock.on(GetRecordsCommand).resolves({ Records: [], NextShardIterator: 'it-again' });
    expect(await jobsInStreamBatch(streams, INFO)).toEqual([]);
    expect(mock.commandCalls(GetRecordsCommand).length).toBeLessThanOrEqual(20);
  });

  it('answers undefined once the records have left the stream', async () => {
    mock
      .on(GetShardIteratorCommand)
      .rejects(new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }));
    expect(await jobsInStreamBatch(streams, INFO)).toBeUndefined();
  });

  it('refuses a message that is not a batch pointer', async () => {
    await expect(jobsInStreamBatch(streams, { shardId: 'x' })).rejects.toThrow(/not a stream batch pointer/);
  });
});
