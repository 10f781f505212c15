import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobSlots, slotsKey } from '../../../lambdas/adapters/dynamo-job-slots.js';
import { JOB_ID, TABLE_NAME, TENANT } from '../support/fixtures.js';

const ddb = mockClient(DynamoDBDocumentClient);
const slots = new DynamoJobSlots(
  TABLE_NAME,
  DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
);

/** What DynamoDB answers a plain write to an item that a transaction in flight holds. */
const conflict = () =>
  Object.assign(new Error('Transaction is ongoing for the item'), { name: 'TransactionConflictException' });

beforeEach(() => ddb.reset());

describe('DynamoJobSlots.releaseSlot', () => {
  it("tries again while a transaction (a submit's or an admission's) holds the slots item", async () => {
    ddb.on(UpdateCommand).rejectsOnce(conflict()).rejectsOnce(conflict()).resolves({});

    expect(await slots.releaseSlot(TENANT, JOB_ID)).toBe(true);

    const keys = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual([slotsKey(TENANT), slotsKey(TENANT), slotsKey(TENANT)]);
  });

  it('answers false, without trying again, when the job holds no slot (a second release)', async () => {
    ddb
      .on(UpdateCommand)
      .rejects(
        new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      );

    expect(await slots.releaseSlot(TENANT, JOB_ID)).toBe(false);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });
});

describe('DynamoJobSlots.admit', () => {
  const entries = ['job_1', 'job_2', 'job_3'].map((id) => ({
    SK: id,
    executionName: id,
    timeoutSeconds: 60,
  }));
  /** The answer to an admission whose queue entry a racing admitter removed first. */
  const taken = () =>
    Object.assign(new Error('Transaction cancelled'), {
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
    });

  it('leaves the queue to a racing admitter once it finds the head taken, instead of failing down the queue', async () => {
    ddb.on(GetCommand).resolves({ Item: { running: 0, queued: 3, holders: {} } });
    ddb.on(QueryCommand).resolves({ Items: entries });
    ddb.on(TransactWriteCommand).rejects(taken());

    expect((await slots.admit(TENANT, 10, 0)).admitted).toEqual([]);
    // The head admitted together (refused), then its first job alone, found taken: no more.
    const tries = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems?.length);
    expect(tries).toEqual([7, 3]);
  });

  it('admits down the head while its admissions succeed', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { running: 0, queued: 3, holders: {} } })
      .resolves({ Item: { running: 3, queued: 0, holders: {} } });
    ddb.on(QueryCommand).resolves({ Items: entries });
    ddb.on(TransactWriteCommand).resolves({});

    expect((await slots.admit(TENANT, 10, 0)).admitted.map((j) => j.id)).toEqual(['job_1', 'job_2', 'job_3']);
    // One transaction took the three slots and removed the three entries; the queue held no more.
    const [admission, ...more] = ddb.commandCalls(TransactWriteCommand).map((c) => c.args[0].input);
    expect(more).toEqual([]);
    expect(admission?.TransactItems?.[0]?.Update).toMatchObject({
      ConditionExpression:
        'running <= :limit AND attribute_not_exists(holders.#job0) AND attribute_not_exists(holders.#job1) AND attribute_not_exists(holders.#job2)',
      ExpressionAttributeNames: { '#job0': 'job_1', '#job1': 'job_2', '#job2': 'job_3' },
      ExpressionAttributeValues: expect.objectContaining({ ':n': 3, ':limit': 7 }) as unknown,
    });
    expect(admission?.TransactItems?.slice(1).map((i) => Object.keys(i)[0])).toEqual([
      'Delete',
      'ConditionCheck',
      'Delete',
      'ConditionCheck',
      'Delete',
      'ConditionCheck',
    ]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
  });
});
