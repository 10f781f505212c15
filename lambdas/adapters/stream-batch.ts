import {
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { JOB_SK, TABLE_KEYS } from '../config/table.js';

/**
 * What Lambda sends to a stream event source's on-failure destination in place of the records:
 * a pointer to the batch (`DDBStreamBatchInfo`).
 */
export interface StreamBatchInfo {
  streamArn?: string;
  shardId?: string;
  startSequenceNumber?: string;
  endSequenceNumber?: string;
}

export interface BatchJob {
  tenant: string;
  jobId: string;
}

/**
 * GetRecords calls per batch at most. A batch is far smaller than one call's 1,000 records, but a
 * call may come back empty before the shard's later records, and an open shard whose last records
 * are the batch's has nothing past it to end the read.
 */
const MAX_READS = 20;

const isNamed = (e: unknown, ...names: string[]) => e instanceof Error && names.includes(e.name);

/**
 * The jobs whose writes a batch pointer names, read back from the stream, each once, in stream
 * order. Undefined when the records are gone: a stream keeps them 24 hours.
 */
export async function jobsInStreamBatch(
  streams: DynamoDBStreamsClient,
  info: StreamBatchInfo,
): Promise<BatchJob[] | undefined> {
  const { streamArn, shardId, startSequenceNumber, endSequenceNumber } = info;
  if (!streamArn || !shardId || !startSequenceNumber || !endSequenceNumber) {
    throw new Error('not a stream batch pointer: streamArn, shardId and sequence numbers are required');
  }
  let iterator: string | undefined;
  try {
    ({ ShardIterator: iterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: startSequenceNumber,
      }),
    ));
  } catch (e) {
    if (isNamed(e, 'TrimmedDataAccessException', 'ResourceNotFoundException')) return undefined;
    throw e;
  }
  // Sequence numbers are decimal strings of varying length: compared as numbers, not text.
  const end = BigInt(endSequenceNumber);
  const jobs = new Map<string, BatchJob>();
  for (let reads = 0; iterator && reads < MAX_READS; reads++) {
    const { Records = [], NextShardIterator } = await streams.send(
      new GetRecordsCommand({ ShardIterator: iterator }),
    );
    for (const record of Records) {
      const seq = record.dynamodb?.SequenceNumber;
      if (seq !== undefined && BigInt(seq) > end) return [...jobs.values()];
      const image = record.dynamodb?.NewImage ?? record.dynamodb?.OldImage;
      const item = image ? unmarshall(image as Record<string, AttributeValue>) : undefined;
      if (
        item?.[TABLE_KEYS.sort] === JOB_SK &&
        typeof item.id === 'string' &&
        typeof item.tenant === 'string'
      ) {
        jobs.set(`${item.tenant}\n${item.id}`, { tenant: item.tenant, jobId: item.id });
      }
    }
    iterator = NextShardIterator;
  }
  return [...jobs.values()];
}
