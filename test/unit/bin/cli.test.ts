import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../../bin/dlq-cli.js';
import { jobPk } from '../../../lambdas/adapters/dynamo-job-store.js';
import { makeJob } from '../support/fixtures.js';

const JOB_DLQ = 'http://sqs.local/000000000000/JobDlq';
const START_DLQ = 'http://sqs.local/000000000000/StartDlq';
const region = { region: 'us-east-1' };
const config = {
  tableName: 'Jobs',
  jobDlqUrl: JOB_DLQ,
  startDlqUrl: START_DLQ,
  dynamodb: new DynamoDBClient(region),
  streams: new DynamoDBStreamsClient(region),
  sqs: new SQSClient(region),
};
const sqs = mockClient(config.sqs);
const streams = mockClient(config.streams);
const ddb = mockClient(DynamoDBDocumentClient);

/** A start DLQ message as Lambda writes it for a stream batch it gave up on. */
const startDlqMessage = {
  MessageId: 'm-1',
  ReceiptHandle: 'r-1',
  Body: JSON.stringify({
    requestContext: { condition: 'RetryAttemptsExhausted' },
    DDBStreamBatchInfo: {
      shardId: 'shardId-0001',
      startSequenceNumber: '9800',
      endSequenceNumber: '10200',
      batchSize: 2,
      streamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs/stream/x',
    },
  }),
};

const jobRecord = (seq: string, tenant: string, id: string): _Record => ({
  eventName: 'INSERT',
  dynamodb: {
    SequenceNumber: seq,
    NewImage: { SK: { S: 'JOB' }, tenant: { S: tenant }, id: { S: id } },
  },
});

async function list() {
  const lines: string[] = [];
  await run(['dlq', 'list'], config, (line) => lines.push(line));
  return lines;
}

beforeEach(() => {
  sqs.reset();
  streams.reset();
  ddb.reset();
  sqs.on(ReceiveMessageCommand, { QueueUrl: JOB_DLQ }).resolves({ Messages: [] });
  sqs.on(ReceiveMessageCommand, { QueueUrl: START_DLQ }).resolves({ Messages: [startDlqMessage] });
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
  streams.on(GetRecordsCommand).resolves({
    Records: [jobRecord('9800', 'a', 'job_1'), jobRecord('10200', 'b', 'job_2')],
  });
  ddb.on(GetCommand).resolves({});
  ddb.on(GetCommand, { Key: { PK: jobPk('a', 'job_1'), SK: 'JOB' } }).resolves({
    Item: { ...makeJob({ id: 'job_1', tenant: 'a', status: 'pending' }), PK: jobPk('a', 'job_1'), SK: 'JOB' },
  });
});

describe('agent-jobs dlq list', () => {
  it('names the jobs behind each start DLQ message, read from the stream records it points at, with their status now', async () => {
    expect(await list()).toEqual([
      'job DLQ: 0 message(s)',
      'start DLQ: 1 message(s) (stream batches the control-executions consumer gave up on)',
      '  shard shardId-0001 records 9800..10200 (message m-1)',
      '    job_1  tenant a  now pending',
      '    job_2  tenant b  gone (expired or deleted)',
    ]);
    // Listing leaves the message in the queue for the next operator.
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toContainEqual({
      QueueUrl: START_DLQ,
      ReceiptHandle: 'r-1',
      VisibilityTimeout: 0,
    });
  });

  it('says so when the records have left the stream', async () => {
    streams
      .on(GetShardIteratorCommand)
      .rejects(new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }));
    expect((await list()).at(-1)).toBe(
      '    jobs unknown: the records are no longer in the stream (it keeps them 24 hours)',
    );
  });
});
