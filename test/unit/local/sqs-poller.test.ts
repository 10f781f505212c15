import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type SqsLocal, startSqsLocal } from '../../../lambdas/local/sqs-local.js';
import {
  eventSourceMappings,
  settleBatch,
  SqsPoller,
  type SqsPollerOptions,
} from '../../../lambdas/local/sqs-poller.js';
import {
  type CfnTemplate,
  createResolver,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
} from '../../../lambdas/local/template.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Generous: outcomes are awaited, never timed. */
const DEADLINE = { timeout: 20_000, interval: 25 };

let sqsLocal: SqsLocal;
let sqs: SQSClient;
const pollers: SqsPoller[] = [];

beforeAll(async () => {
  sqsLocal = await startSqsLocal();
  sqs = new SQSClient({ region: LOCAL_REGION, credentials, endpoint: sqsLocal.endpoint });
});

afterAll(async () => {
  sqs?.destroy();
  await sqsLocal?.stop();
});

async function createQueue(attributes: Record<string, string> = {}, name = `q-${randomUUID()}`) {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return { url: QueueUrl!, arn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}` };
}

async function sendAll(url: string, bodies: string[]) {
  const { Successful = [] } = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
    }),
  );
  return Successful.map((s) => s.MessageId!);
}

async function messagesLeft(url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

/** Every record the handler saw, in order, as `body#ApproximateReceiveCount`, and per invocation. */
function deliveryLog() {
  const seen: string[] = [];
  const batches: string[][] = [];
  return {
    seen,
    /** Which invocation delivered a record (-1: none yet). */
    batchOf: (entry: string) => batches.findIndex((b) => b.includes(entry)),
    record: (event: SQSEvent) => {
      batches.push(event.Records.map(label));
      seen.push(...batches.at(-1)!);
    },
  };
}

const label = (r: SQSRecord) => `${r.body}#${r.attributes.ApproximateReceiveCount}`;

const failures = (records: SQSRecord[]) => ({
  batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })),
});

function startPoller(
  queue: { url: string; arn: string },
  options: Partial<SqsPollerOptions> & Pick<SqsPollerOptions, 'invoke'>,
) {
  const poller = new SqsPoller({
    sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    functionName: 'Consumer',
    timeoutMs: 10_000,
    ...options,
  });
  pollers.push(poller);
  void poller.start();
  return poller;
}

describe('SqsPoller against fauxqs', { timeout: 40_000 }, () => {
  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });

  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((p) => p.stop()));
    vi.restoreAllMocks();
  });

  it('invokes the handler with the SQSEvent Lambda builds, then deletes the batch', async () => {
    const queue = await createQueue();
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'greeting' },
          attempt: { DataType: 'Number', StringValue: '3' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from('raw bytes') },
        },
      }),
    );
    const events: SQSEvent[] = [];
    startPoller(queue, { invoke: async (event) => void events.push(event) });

    await vi.waitFor(() => expect(events).toHaveLength(1), DEADLINE);
    const list = { stringListValues: [], binaryListValues: [] };
    expect(events[0]!.Records).toEqual([
      {
        messageId: sent.MessageId,
        receiptHandle: expect.any(String),
        body: '{"hello":"world"}',
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d{13}$/),
          SenderId: expect.any(String),
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
        },
        messageAttributes: {
          kind: { stringValue: 'greeting', ...list, dataType: 'String' },
          attempt: { stringValue: '3', ...list, dataType: 'Number' },
          blob: { binaryValue: Buffer.from('raw bytes').toString('base64'), ...list, dataType: 'Binary' },
        },
        md5OfBody: createHash('md5').update('{"hello":"world"}').digest('hex'),
        md5OfMessageAttributes: sent.MD5OfMessageAttributes,
        eventSource: 'aws:sqs',
        eventSourceARN: queue.arn,
        awsRegion: LOCAL_REGION,
      },
    ]);
    await vi.waitFor(async () => expect(await messagesLeft(queue.url)).toBe(0), DEADLINE);
  });

  it('passes FIFO attributes through when the message has them', async () => {
    const queue = await createQueue({ FifoQueue: 'true' }, `q-${randomUUID()}.fifo`);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: 'ordered',
        MessageGroupId: 'job-1',
        MessageDeduplicationId: 'delivery-1',
      }),
    );
    const records: SQSRecord[] = [];
    startPoller(queue, { invoke: async (event) => void records.push(...event.Records) });

    await vi.waitFor(() => expect(records).toHaveLength(1), DEADLINE);
    expect(records[0]!.attributes).toMatchObject({
      MessageGroupId: 'job-1',
      MessageDeduplicationId: 'delivery-1',
      SequenceNumber: expect.any(String),
    });
  });

  it('deletes only the successes of a partial batch failure; the failure comes back', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await sendAll(queue.url, ['a', 'b', 'c']);
    const log = deliveryLog();
    startPoller(queue, {
      reportBatchItemFailures: true,
      invoke: async (event) => {
        log.record(event);
        return failures(
          event.Records.filter((r) => r.body === 'b' && r.attributes.ApproximateReceiveCount === '1'),
        );
      },
    });

    await vi.waitFor(() => expect(log.seen).toContain('b#2'), DEADLINE);
    await vi.waitFor(async () => expect(await messagesLeft(queue.url)).toBe(0), DEADLINE);
    // a and c were deleted: had they been left, they would have come back before b did.
    expect([...log.seen].sort()).toEqual(['a#1', 'b#1', 'b#2', 'c#1']);
  });

  it('leaves a failed message the handler made invisible for longer until that runs out', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await sendAll(queue.url, ['control', 'delayed']);
    const log = deliveryLog();
    startPoller(queue, {
      concurrency: 1,
      reportBatchItemFailures: true,
      invoke: async (event) => {
        log.record(event);
        const firstTime = event.Records.filter((r) => r.attributes.ApproximateReceiveCount === '1');
        for (const r of firstTime.filter((r) => r.body === 'delayed')) {
          await sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queue.url,
              ReceiptHandle: r.receiptHandle,
              VisibilityTimeout: 4,
            }),
          );
        }
        return failures(firstTime);
      },
    });

    await vi.waitFor(() => expect(log.seen).toContain('delayed#2'), DEADLINE);
    // Both failed together; the one left at the queue's 1 s came back first, neither was deleted.
    expect(log.batchOf('control#1')).toBe(log.batchOf('delayed#1'));
    expect(log.batchOf('control#2')).toBeGreaterThan(log.batchOf('delayed#1'));
    expect(log.batchOf('delayed#2')).toBeGreaterThan(log.batchOf('control#2'));
    await vi.waitFor(async () => expect(await messagesLeft(queue.url)).toBe(0), DEADLINE);
  });

  it('deletes nothing when the handler throws: the whole batch comes back', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await sendAll(queue.url, ['x', 'y']);
    const log = deliveryLog();
    startPoller(queue, {
      reportBatchItemFailures: true,
      invoke: async (event) => {
        log.record(event);
        if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1'))
          throw new Error('downstream unavailable');
        return { batchItemFailures: [] };
      },
    });

    await vi.waitFor(() => expect(log.seen).toEqual(expect.arrayContaining(['x#2', 'y#2'])), DEADLINE);
    await vi.waitFor(async () => expect(await messagesLeft(queue.url)).toBe(0), DEADLINE);
    expect(console.error).toHaveBeenCalledWith(
      expect.stringMatching(/^sqs poller \(Consumer\): invocation failed/),
      expect.objectContaining({ message: 'downstream unavailable' }),
    );
  });

  it('counts an invocation that outlives the function timeout as failed', async () => {
    const queue = await createQueue({ VisibilityTimeout: '1' });
    await sendAll(queue.url, ['slow']);
    const log = deliveryLog();
    startPoller(queue, {
      timeoutMs: 200,
      invoke: (event) => {
        log.record(event);
        // The first invocation never finishes.
        return log.seen.length === 1 ? new Promise(() => {}) : Promise.resolve();
      },
    });

    await vi.waitFor(() => expect(log.seen).toContain('slow#2'), DEADLINE);
    await vi.waitFor(async () => expect(await messagesLeft(queue.url)).toBe(0), DEADLINE);
    expect(console.error).toHaveBeenCalledWith(
      expect.stringContaining('invocation failed'),
      expect.objectContaining({ message: 'Task timed out after 0.20 seconds' }),
    );
  });

  it('gathers a batch over the batching window', async () => {
    const queue = await createQueue();
    const events: SQSEvent[] = [];
    startPoller(queue, {
      concurrency: 1,
      batchSize: 3,
      batchingWindowSeconds: 3,
      invoke: async (event) => void events.push(event),
    });
    for (const body of ['one', 'two', 'three']) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    }

    await vi.waitFor(() => expect(events.flatMap((e) => e.Records)).toHaveLength(3), DEADLINE);
    expect(events).toHaveLength(1);
  });

  it('keeps polling after receive errors', async () => {
    const name = `q-${randomUUID()}`;
    const url = `${sqsLocal.endpoint}/${LOCAL_ACCOUNT_ID}/${name}`;
    const bodies: string[] = [];
    startPoller(
      { url, arn: 'arn:aws:sqs:us-east-1:000000000000:missing' },
      { retryBaseMs: 10, invoke: async (event) => void bodies.push(...event.Records.map((r) => r.body)) },
    );
    await vi.waitFor(
      () =>
        expect(console.error).toHaveBeenCalledWith(
          'sqs poller (Consumer): receiving failed; polling again after a pause',
          expect.anything(),
        ),
      DEADLINE,
    );

    expect((await createQueue({}, name)).url).toBe(url);
    await sendAll(url, ['finally']);
    await vi.waitFor(() => expect(bodies).toEqual(['finally']), DEADLINE);
  });

  it('runs several receive loops, so a slow batch does not hold up the next', async () => {
    const queue = await createQueue();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    startPoller(queue, {
      concurrency: 2,
      invoke: async (event) => {
        const body = event.Records[0]!.body;
        order.push(`${body} started`);
        if (body === 'slow') await released;
        order.push(`${body} done`);
      },
    });
    await sendAll(queue.url, ['slow']);
    await vi.waitFor(() => expect(order).toEqual(['slow started']), DEADLINE);
    await sendAll(queue.url, ['quick']);

    await vi.waitFor(() => expect(order).toContain('quick done'), DEADLINE);
    release();
    await vi.waitFor(() => expect(order).toContain('slow done'), DEADLINE);
    expect(order).toEqual(['slow started', 'quick started', 'quick done', 'slow done']);
  });

  it('stop() ends an open long poll at once', async () => {
    const queue = await createQueue();
    const watched = new SQSClient({ region: LOCAL_REGION, credentials, endpoint: sqsLocal.endpoint });
    let pollOpened!: () => void;
    const pollOpen = new Promise<void>((resolve) => (pollOpened = resolve));
    watched.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'ReceiveMessageCommand') pollOpened();
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    const poller = startPoller(queue, { sqs: watched, invoke: async () => {} });
    await pollOpen;

    // Each long poll lasts 20 s; stopping must not wait for it.
    const giveUp = new AbortController();
    const first = await Promise.race([
      poller.stop().then(() => 'stopped'),
      sleep(10_000, 'still polling', { signal: giveUp.signal }),
    ]);
    giveUp.abort();
    watched.destroy();
    expect(first).toBe('stopped');
  });

  it('stop() waits for the invocation under way and still settles its batch', async () => {
    const queue = await createQueue();
    await sendAll(queue.url, ['in flight']);
    let invoked!: () => void;
    const invocation = new Promise<void>((resolve) => (invoked = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const poller = startPoller(queue, {
      invoke: async () => {
        invoked();
        await finished;
      },
    });
    await invocation;

    const order: string[] = [];
    const stopping = poller.stop().then(() => order.push('stopped'));
    await sleep(200);
    order.push('handler finished');
    finish();
    await stopping;

    expect(order).toEqual(['handler finished', 'stopped']);
    expect(await messagesLeft(queue.url)).toBe(0);
  });
});

describe('settleBatch', () => {
  const record = (messageId: string) => ({ messageId }) as SQSRecord;
  const batch = [record('m1'), record('m2'), record('m3')];
  const ids = (records: SQSRecord[]) => records.map((r) => r.messageId);

  it('deletes everything when the mapping does not report batch item failures', () => {
    const outcome = settleBatch(batch, failures([record('m1')]), false);
    expect(ids(outcome.succeeded)).toEqual(['m1', 'm2', 'm3']);
  });

  it.each([null, {}, { batchItemFailures: [] }, { batchItemFailures: null }, { statusCode: 200 }])(
    'counts %j as a complete success',
    (response) => {
      expect(settleBatch(batch, response, true)).toEqual({ succeeded: batch, failed: [] });
    },
  );

  it('keeps the reported failures and deletes the rest', () => {
    const outcome = settleBatch(batch, failures([record('m2')]), true);
    expect(ids(outcome.succeeded)).toEqual(['m1', 'm3']);
    expect(ids(outcome.failed)).toEqual(['m2']);
    expect(outcome.invalidResponse).toBeUndefined();
  });

  it.each([
    ['a string', 'ok', /not an object/],
    ['a list', [{ itemIdentifier: 'm1' }], /not an object/],
    ['a list that is not one', { batchItemFailures: 'm1' }, /not a list/],
    ['an item without an identifier', { batchItemFailures: [{ id: 'm1' }] }, /\[0\] has no itemIdentifier/],
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }, /has no itemIdentifier/],
    ['a null item', { batchItemFailures: [null] }, /has no itemIdentifier/],
    ['an identifier outside the batch', failures([record('m1'), record('other')]), /other names no message/],
  ])('fails the whole batch for %s', (_, response, reason) => {
    const outcome = settleBatch(batch, response, true);
    expect(outcome.succeeded).toEqual([]);
    expect(outcome.failed).toEqual(batch);
    expect(outcome.invalidResponse).toMatch(reason);
  });
});

describe('eventSourceMappings', () => {
  const mapping = (properties: Record<string, unknown>) => ({
    Type: 'AWS::Lambda::EventSourceMapping',
    Properties: { FunctionName: { Ref: 'Fn' }, ...properties },
  });
  const template: CfnTemplate = {
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table' },
      WebhookQueue: { Type: 'AWS::SQS::Queue' },
      Fn: { Type: 'AWS::Lambda::Function' },
      OnStream: mapping({ EventSourceArn: { 'Fn::GetAtt': ['Table', 'StreamArn'] }, BatchSize: 25 }),
      OnQueue: mapping({
        EventSourceArn: { 'Fn::GetAtt': ['WebhookQueue', 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      }),
    },
  };
  const resolve = createResolver(template, { queueUrl: (name) => `http://sqs.local:1/000000000000/${name}` });

  it('sends stream mappings to the stream poller and queue mappings to the queue poller', () => {
    const { streams, queues } = eventSourceMappings(template, resolve);
    expect(streams.map((m) => m.logicalId)).toEqual(['OnStream']);
    expect(queues).toEqual([
      {
        logicalId: 'OnQueue',
        properties: template.Resources.OnQueue!.Properties,
        queueLogicalId: 'WebhookQueue',
      },
    ]);
  });

  it('leaves disabled mappings out', () => {
    const disabled: CfnTemplate = {
      Resources: {
        ...template.Resources,
        OnQueue: mapping({ EventSourceArn: { 'Fn::GetAtt': ['WebhookQueue', 'Arn'] }, Enabled: false }),
      },
    };
    const { streams, queues } = eventSourceMappings(
      disabled,
      createResolver(disabled, { queueUrl: (n) => n }),
    );
    expect(streams).toHaveLength(1);
    expect(queues).toEqual([]);
  });

  it('refuses a source with no local stand-in', () => {
    const foreign: CfnTemplate = {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function' },
        OnKinesis: mapping({ EventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/events' }),
      },
    };
    expect(() => eventSourceMappings(foreign, createResolver(foreign, { queueUrl: (n) => n }))).toThrow(
      /OnKinesis: "arn:aws:kinesis:.*" is neither a table stream nor a queue of the template/,
    );
  });
});
