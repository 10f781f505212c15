import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { laneOf } from '../../../lambdas/local/shard-lanes.js';
import { StreamPoller } from '../../../lambdas/local/stream-poller.js';

const ddb = mockClient(DynamoDBClient);
const streams = mockClient(DynamoDBStreamsClient);
const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:000000000000:table/jobs/stream/1';

let seq = 1000;
/** A stream record of item `item`: a job item (`JOB`) or another kind (`EVENT#...`). */
function streamRecord(item: string, sk = 'JOB'): _Record {
  seq += 1;
  return {
    eventID: `ev-${seq}`,
    eventName: 'MODIFY',
    dynamodb: {
      Keys: { PK: { S: item }, SK: { S: sk } },
      NewImage: { PK: { S: item }, SK: { S: sk } },
      SequenceNumber: String(seq),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** Records written to the shard after the poller has read to its end. */
const appended: _Record[] = [];

/** A shard that serves each of `reads` to one GetRecords call, in turn, and nothing after. */
function shardServing(...reads: _Record[][]) {
  ddb.on(DescribeTableCommand).resolves({ Table: { LatestStreamArn: STREAM_ARN } });
  streams.on(DescribeStreamCommand).resolves({ StreamDescription: { Shards: [{ ShardId: 'shard-1' }] } });
  streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
  // Past the reads given: whatever `appended` holds by then, once.
  streams.on(GetRecordsCommand).callsFake(() => ({
    Records: appended.splice(0),
    NextShardIterator: `it-${reads.length}`,
  }));
  reads.forEach((records, i) =>
    streams
      .on(GetRecordsCommand, { ShardIterator: `it-${i}` })
      .resolves({ Records: records, NextShardIterator: `it-${i + 1}` }),
  );
}

let poller: StreamPoller | undefined;

function startPoller(
  invoke: (event: DynamoDBStreamEvent) => Promise<undefined>,
  options: { batchSize: number; parallelizationFactor?: number },
  idlePollMs = 5,
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
    idlePollMs,
    ...options,
  });
  return poller.start();
}

const ids = (event: DynamoDBStreamEvent) => event.Records.map((r) => r.dynamodb!.SequenceNumber!);
const itemOf = (r: DynamoDBRecord) => r.dynamodb!.Keys!.PK!.S!;

beforeEach(() => {
  appended.length = 0;
  ddb.reset();
  streams.reset();
});

afterEach(async () => {
  await poller?.stop();
  poller = undefined;
});

describe('StreamPoller batching', () => {
  it('reads up to 1,000 records a call and filters them before batching, as Lambda does', async () => {
    const records = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0 ? streamRecord(`JOB#${i}`) : streamRecord(`JOB#${i}`, `EVENT#${i}`),
    );
    shardServing(records);
    const batches: string[][] = [];
    await startPoller(async (event) => void batches.push(ids(event)), { batchSize: 10 });

    await vi.waitFor(() => expect(batches.flat()).toHaveLength(30));

    expect(streams.commandCalls(GetRecordsCommand)[0]!.args[0].input.Limit).toBe(1000);
    const matching = records.filter((_, i) => i % 2 === 0).map((r) => r.dynamodb!.SequenceNumber!);
    expect(batches).toEqual([matching.slice(0, 10), matching.slice(10, 20), matching.slice(20, 30)]);
  });

  it('with a parallelization factor, has that many batches in flight at most, each item in order in one of them', async () => {
    const items = ['JOB#a', 'JOB#b', 'JOB#c', 'JOB#d', 'JOB#e', 'JOB#f', 'JOB#g', 'JOB#h'];
    const records = Array.from({ length: 5 }, () => items.map((item) => streamRecord(item))).flat();
    shardServing(records);
    const inFlight = new Set<DynamoDBStreamEvent>();
    let most = 0;
    const delivered: DynamoDBRecord[] = [];
    await startPoller(
      async (event) => {
        const busyItems = [...inFlight].flatMap((e) => e.Records.map(itemOf));
        // One item's records never in two batches at once.
        expect(event.Records.some((r) => busyItems.includes(itemOf(r)))).toBe(false);
        inFlight.add(event);
        most = Math.max(most, inFlight.size);
        await new Promise((resolve) => setTimeout(resolve, 5));
        delivered.push(...event.Records);
        inFlight.delete(event);
      },
      { batchSize: 2, parallelizationFactor: 3 },
    );

    await vi.waitFor(() => expect(delivered).toHaveLength(records.length));

    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(3);
    for (const item of items) {
      const order = delivered
        .filter((r) => itemOf(r) === item)
        .map((r) => Number(r.dynamodb!.SequenceNumber));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
  });

  it("holds only the slow batch's lane back: records read later for other lanes are delivered meanwhile", async () => {
    const [slowItem, otherItem] = ['JOB#slow', 'JOB#x', 'JOB#y', 'JOB#z'].reduce<[string, string]>(
      (found, item) =>
        laneOf({ dynamodb: { Keys: { PK: { S: item }, SK: { S: 'JOB' } } } }, 2) === 0
          ? [found[0] || item, found[1]]
          : [found[0], found[1] || item],
      ['', ''],
    );
    const slow = streamRecord(slowItem);
    const later = streamRecord(otherItem);
    shardServing([slow], [later]);
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const delivered: string[] = [];
    await startPoller(
      async (event) => {
        if (event.Records.some((r) => itemOf(r) === slowItem)) await held;
        delivered.push(...ids(event));
      },
      { batchSize: 10, parallelizationFactor: 2 },
    );

    await vi.waitFor(() => expect(delivered).toEqual([later.dynamodb!.SequenceNumber]));
    release();
    await vi.waitFor(() => expect(delivered).toHaveLength(2));
  });

  it('reads the next records as soon as a batch is done, not after the idle back-off that grew meanwhile', async () => {
    const first = streamRecord('JOB#a');
    const next = streamRecord('JOB#b');
    shardServing([first]);
    const delivered: string[] = [];
    await startPoller(
      async (event) => {
        // While this batch runs the shard reads empty and the poller backs off (up to a minute).
        if (event.Records[0] === undefined || itemOf(event.Records[0]) === 'JOB#a') {
          await new Promise((resolve) => setTimeout(resolve, 2_500));
          appended.push(next);
        }
        delivered.push(...ids(event));
      },
      { batchSize: 10 },
      60_000,
    );

    await vi.waitFor(() => expect(delivered).toContain(first.dynamodb!.SequenceNumber), { timeout: 4_000 });
    // The back-off had grown past a second by then: only a read at once gets here in time.
    await vi.waitFor(() => expect(delivered).toHaveLength(2), { timeout: 500 });
  });
});
