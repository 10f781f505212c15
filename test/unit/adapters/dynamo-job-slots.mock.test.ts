import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
