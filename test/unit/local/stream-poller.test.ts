import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamPoller, type StreamPollerOptions } from '../../../lambdas/local/stream-poller.js';

const ddb = mockClient(DynamoDBClient);
const streams = mockClient(DynamoDBStreamsClient);
const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:000000000000:table/jobs/stream/1';

let seq = 1000;
/** A stream record of a job item (`JOB`) or of another kind of item (`EVENT#...`). */
function streamRecord(pk: string, sk = 'JOB'): _Record {
  seq += 1;
  return {
    eventID: `ev-${seq}`,
    eventName: 'MODIFY',
    dynamodb: {
      Keys: { PK: { S: pk }, SK: { S: sk } },
      NewImage: { PK: { S: pk }, SK: { S: sk } },
      SequenceNumber: String(seq),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** One shard whose first GetRecords call returns `records`, and every later one nothing. */
function shardServing(records: _Record[]) {
  ddb.on(DescribeTableCommand).resolves({ Table: { LatestStreamArn: STREAM_ARN } });
  streams.on(DescribeStreamCommand).resolves({ StreamDescription: { Shards: [{ ShardId: 'shard-1' }] } });
  streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
  streams.on(GetRecordsCommand).resolves({ Records: [], NextShardIterator: 'it-1' });
  streams
    .on(GetRecordsCommand, { ShardIterator: 'it-0' })
    .resolves({ Records: records, NextShardIterator: 'it-1' });
}

let poller: StreamPoller | undefined;

async function startPoller(
  invoke: (event: DynamoDBStreamEvent) => Promise<undefined>,
  options: Partial<StreamPollerOptions>,
) {
  poller = new StreamPoller({
    ddb: new DynamoDBClient({ region: 'eu-west-1' }),
    streams: new DynamoDBStreamsClient({ region: 'eu-west-1' }),
    sqs: new SQSClient({ region: 'eu-west-1' }),
    tableName: 'jobs',
    functionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:consumer',
    invoke,
    filterCriteria: {
      Filters: [{ Pattern: JSON.stringify({ dynamodb: { Keys: { SK: { S: ['JOB'] } } } }) }],
    },
    busyPollMs: 1,
    idlePollMs: 5,
    ...options,
  });
  await poller.start();
}

const ids = (event: DynamoDBStreamEvent) => event.Records.map((r) => r.dynamodb!.SequenceNumber!);
/** Every other record a job item's, the rest other items' (which the filter drops). */
const mixed = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? streamRecord(`J#${i}`) : streamRecord(`J#${i}`, `EVENT#${i}`),
  );
const jobRecords = (records: _Record[]) =>
  records.filter((r) => r.dynamodb!.Keys!.SK!.S === 'JOB').map((r) => r.dynamodb!.SequenceNumber!);

let dir: string;
beforeEach(async () => {
  ddb.reset();
  streams.reset();
  dir = await mkdtemp(join(tmpdir(), 'stream-poller-'));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await poller?.stop();
  poller = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('StreamPoller', () => {
  it('reads up to 1,000 records a call and filters them before batching, as Lambda does', async () => {
    const records = mixed(60);
    shardServing(records);
    const batches: string[][] = [];
    await startPoller(async (event) => void batches.push(ids(event)), { batchSize: 10 });

    await vi.waitFor(() => expect(batches.flat()).toHaveLength(30));

    expect(streams.commandCalls(GetRecordsCommand)[0]!.args[0].input.Limit).toBe(1000);
    const matching = jobRecords(records);
    expect(batches).toEqual([matching.slice(0, 10), matching.slice(10, 20), matching.slice(20, 30)]);
  });

  it('saves the position past the trailing records the filter dropped, once the read is delivered', async () => {
    const records = mixed(12);
    shardServing(records);
    const checkpointFile = join(dir, 'checkpoint.json');
    const delivered: string[] = [];
    await startPoller(async (event) => void delivered.push(...ids(event)), { batchSize: 4, checkpointFile });

    const last = records.at(-1)!.dynamodb!.SequenceNumber;
    await vi.waitFor(async () => {
      const saved = JSON.parse(await readFile(checkpointFile, 'utf8')) as {
        shards: Record<string, { sequenceNumber: string }>;
      };
      expect(saved.shards['shard-1']?.sequenceNumber).toBe(last);
    });
    expect(delivered).toEqual(jobRecords(records));
    expect(jobRecords(records)).not.toContain(last);
  });

  it('saves the position after each batch, so a restart delivers again only what was not delivered', async () => {
    const records = mixed(12);
    shardServing(records);
    const checkpointFile = join(dir, 'checkpoint.json');
    const delivered: string[][] = [];
    let failures = 0;
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    await startPoller(
      async (event) => {
        // The second batch fails and waits out a long back-off: the poller is stopped meanwhile.
        if (delivered.length === 1) {
          failures++;
          throw new Error('handler failed');
        }
        delivered.push(ids(event));
      },
      { batchSize: 2, checkpointFile, retryBaseMs: 60_000 },
    );
    await vi.waitFor(() => expect(failures).toBe(1));
    await poller!.stop();

    const matching = jobRecords(records);
    expect(delivered).toEqual([matching.slice(0, 2)]);
    const saved = JSON.parse(await readFile(checkpointFile, 'utf8')) as {
      shards: Record<string, { sequenceNumber: string }>;
    };
    expect(saved.shards['shard-1']?.sequenceNumber).toBe(matching[1]);
  });
});
