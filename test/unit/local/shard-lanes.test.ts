import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { laneOf, ShardLanes } from '../../../lambdas/local/shard-lanes.js';

let seq = 0;
const recordOf = (item: string): DynamoDBRecord => ({
  dynamodb: { Keys: { PK: { S: item }, SK: { S: 'JOB' } }, SequenceNumber: String((seq += 1)) },
});
const itemOf = (r: DynamoDBRecord) => r.dynamodb!.Keys!.PK!.S!;
/** Items that fall in lane 0 and lane 1 of 2. */
const [first, second] = ['a', 'b', 'c', 'd', 'e', 'f'].reduce<[string[], string[]]>(
  ([zero, one], item) => (laneOf(recordOf(item), 2) === 0 ? [[...zero, item], one] : [zero, [...one, item]]),
  [[], []],
);

describe('laneOf', () => {
  it("gives one item's records one lane, whatever the order of its key attributes", () => {
    const record = recordOf('a');
    const reordered = { dynamodb: { Keys: { SK: { S: 'JOB' }, PK: { S: 'a' } } } } as DynamoDBRecord;
    expect(laneOf(reordered, 7)).toBe(laneOf(record, 7));
    expect(laneOf(recordOf('a'), 1)).toBe(0);
    expect(first!.length + second!.length).toBe(6);
    expect(first!.length).toBeGreaterThan(0);
    expect(second!.length).toBeGreaterThan(0);
  });
});

describe('ShardLanes', () => {
  it('delivers each lane in order, in batches, and saves the position only past fully delivered reads', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const slowItem = first![0]!;
    const batches: DynamoDBRecord[][] = [];
    const checkpoints: string[] = [];
    const lanes = new ShardLanes({
      lanes: 2,
      batchSize: 2,
      deliver: async (records) => {
        if (records.some((r) => itemOf(r) === slowItem)) await held;
        batches.push(records);
        return true;
      },
      checkpoint: async (sequenceNumber) => void checkpoints.push(sequenceNumber),
      stopped: () => false,
    });
    const read1 = [recordOf(slowItem), recordOf(second![0]!)];
    const read2 = [recordOf(second![0]!), recordOf(second![0]!), recordOf(slowItem)];

    lanes.add(read1, read1.at(-1)!.dynamodb!.SequenceNumber!);
    lanes.add([], 'x');
    lanes.add(read2, read2.at(-1)!.dynamodb!.SequenceNumber!);
    // Lane 1 goes on while lane 0's first batch is held; nothing is saved past the held record.
    await vi.waitFor(() => expect(batches.flat().map(itemOf)).toEqual(Array(3).fill(second![0])));
    expect(checkpoints).toEqual([]);
    expect(lanes.backlog).toBe(2);

    release();
    await lanes.settled();
    expect(batches.flat()).toHaveLength(5);
    const slowOnes = batches.flat().filter((r) => itemOf(r) === slowItem);
    expect(slowOnes).toEqual([read1[0], read2[2]]);
    expect(batches.every((b) => b.length <= 2)).toBe(true);
    expect(checkpoints.at(-1)).toBe(read2.at(-1)!.dynamodb!.SequenceNumber);
    expect(lanes.backlog).toBe(0);
  });

  it('keeps what a stopped lane did not deliver, and saves no position past it', async () => {
    const lanes = new ShardLanes({
      lanes: 1,
      batchSize: 1,
      deliver: async () => false,
      checkpoint: async () => {
        throw new Error('no position may be saved');
      },
      stopped: () => false,
    });
    lanes.add([recordOf('a'), recordOf('b')], 'last');
    await lanes.settled();
    expect(lanes.backlog).toBe(2);
    expect(lanes.failure).toBeUndefined();
  });
});
