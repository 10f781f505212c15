import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttribute, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { type CfnTemplate, LOCAL_REGION, localQueueArn, type Resolver, resourcesOfType } from './template.js';

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** The queue's ARN, quoted as eventSourceARN in every record. */
  queueArn: string;
  /** The consuming function, named in every log line. */
  functionName: string;
  /** Runs the handler; its result is the function's response. */
  invoke: (event: SQSEvent) => Promise<unknown>;
  /** The function's timeout: an invocation still running after it counts as failed, as in Lambda. */
  timeoutMs: number;
  /** Messages per invocation (the mapping's BatchSize); one ReceiveMessage returns at most 10. */
  batchSize?: number;
  /** MaximumBatchingWindowInSeconds: keep receiving until the batch is full or this time has passed. */
  batchingWindowSeconds?: number;
  /** FunctionResponseTypes includes ReportBatchItemFailures. */
  reportBatchItemFailures?: boolean;
  /** Receive loops side by side (ScalingConfig.MaximumConcurrency). */
  concurrency?: number;
  /** Long poll per ReceiveMessage, 0-20 s. */
  waitTimeSeconds?: number;
  retryBaseMs?: number;
}

/** Which messages of an invoked batch are done with, and why the rest are not. */
export interface BatchOutcome {
  succeeded: SQSRecord[];
  failed: SQSRecord[];
  /** Set when Lambda would reject the response itself, failing the whole batch. */
  invalidResponse?: string;
}

const MAX_BATCH_SIZE = 10;
const MAX_WAIT_SECONDS = 20;
/** Lambda starts several pollers per queue; a few keep one slow batch from stalling the rest locally. */
const DEFAULT_CONCURRENCY = 3;
/** ScalingConfig allows up to 1000; that many open long polls buy nothing on one machine. */
const MAX_LOCAL_CONCURRENCY = 10;
const MAX_BACKOFF_MS = 5_000;

/**
 * Lambda's SQS event source mapping, locally: long-polls the queue from a few loops, invokes the
 * handler with the SQSEvent Lambda would build, and deletes what the invocation settled. Whatever
 * is not deleted comes back after its visibility timeout, and the queue's redrive policy counts it.
 */
export class SqsPoller {
  private readonly stopper = new AbortController();
  private loops: Array<Promise<void>> = [];

  constructor(private readonly options: SqsPollerOptions) {
    for (const [name, value] of Object.entries({
      batchSize: options.batchSize,
      concurrency: options.concurrency,
    })) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1))
        throw new Error(`sqs poller (${options.functionName}): ${name} must be a positive integer`);
    }
  }

  async start(): Promise<void> {
    if (this.loops.length > 0 || this.stopped) return;
    const loops = Math.min(this.options.concurrency ?? DEFAULT_CONCURRENCY, MAX_LOCAL_CONCURRENCY);
    this.loops = Array.from({ length: loops }, () => this.run());
  }

  /** Ends the open long polls at once, then waits for the invocations under way. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await Promise.all(this.loops);
  }

  private get stopped() {
    return this.stopper.signal.aborted;
  }

  private get batchSize() {
    return Math.min(this.options.batchSize ?? MAX_BATCH_SIZE, MAX_BATCH_SIZE);
  }

  private async run() {
    let failures = 0;
    while (!this.stopped) {
      let batch: Message[];
      try {
        batch = await this.receiveBatch();
        failures = 0;
      } catch (e) {
        if (this.stopped) return;
        failures++;
        this.log('receiving failed; polling again after a pause', e);
        const pause = Math.min(MAX_BACKOFF_MS, (this.options.retryBaseMs ?? 100) * 2 ** (failures - 1));
        await sleep(pause, undefined, { signal: this.stopper.signal }).catch(() => {});
        continue;
      }
      if (batch.length > 0) await this.process(batch);
    }
  }

  /** One long poll, then more while the batching window is open and the batch is not full. */
  private async receiveBatch(): Promise<Message[]> {
    const batch = await this.receive(this.batchSize, this.options.waitTimeSeconds ?? MAX_WAIT_SECONDS);
    const deadline = Date.now() + (this.options.batchingWindowSeconds ?? 0) * 1000;
    try {
      while (batch.length > 0 && batch.length < this.batchSize && Date.now() < deadline) {
        const seconds = Math.min(MAX_WAIT_SECONDS, Math.ceil((deadline - Date.now()) / 1000));
        batch.push(...(await this.receive(this.batchSize - batch.length, seconds)));
      }
    } catch (e) {
      if (!this.stopped) this.log('receiving failed within the batching window; invoking with what came', e);
    }
    if (this.stopped && batch.length > 0) {
      // Not handed to the function: visible again now rather than after the visibility timeout.
      await this.changeVisibility(batch, 0);
      return [];
    }
    return batch;
  }

  private async receive(max: number, waitTimeSeconds: number): Promise<Message[]> {
    const { Messages } = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.stopper.signal },
    );
    return Messages ?? [];
  }

  private async process(messages: Message[]) {
    const records = messages.map((m) => toSqsRecord(m, this.options.queueArn));
    try {
      const response = await this.invoke({ Records: records });
      const outcome = settleBatch(records, response, this.options.reportBatchItemFailures === true);
      if (outcome.invalidResponse)
        this.log(`invalid batch response (${outcome.invalidResponse}); the whole batch will be retried`);
      await this.delete(outcome.succeeded);
    } catch (e) {
      this.log(
        `invocation failed; its ${records.length} message(s) return after their visibility timeout`,
        e,
      );
    }
  }

  /** Resolves with the response as Lambda's runtime sends it (JSON), rejects on error or timeout. */
  private async invoke(event: SQSEvent): Promise<unknown> {
    const { timeoutMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)),
        timeoutMs,
      );
    });
    try {
      // A timed-out handler keeps running here (no process to end), but its batch counts as failed.
      const response = await Promise.race([this.options.invoke(event), timedOut]);
      const json = JSON.stringify(response);
      return json === undefined ? null : (JSON.parse(json) as unknown);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Not tied to the stop signal: a batch the function finished is settled even while stopping. */
  private async delete(records: SQSRecord[]) {
    if (records.length === 0) return;
    try {
      const { Failed = [] } = await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
      if (Failed.length > 0)
        this.log(`${Failed.length} message(s) could not be deleted and will be delivered again`, Failed);
    } catch (e) {
      this.log(`deleting ${records.length} message(s) failed; they will be delivered again`, e);
    }
  }

  private async changeVisibility(messages: Message[], seconds: number) {
    try {
      await this.options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle!,
            VisibilityTimeout: seconds,
          })),
        }),
      );
    } catch (e) {
      this.log(
        `releasing ${messages.length} message(s) failed; they return after their visibility timeout`,
        e,
      );
    }
  }

  private log(message: string, error?: unknown) {
    const line = `sqs poller (${this.options.functionName}): ${message}`;
    if (error === undefined) console.error(line);
    else console.error(line, error);
  }
}

/** The record Lambda builds from a received message (system and message attributes all requested). */
export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const optional = [
    'AWSTraceHeader',
    'SequenceNumber',
    'MessageGroupId',
    'MessageDeduplicationId',
    'DeadLetterQueueSourceArn',
  ] as const;
  const recordAttributes: SQSRecordAttributes = {
    ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
    SentTimestamp: attributes.SentTimestamp ?? '',
    SenderId: attributes.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
  };
  for (const name of optional) {
    const value = attributes[name];
    if (value !== undefined) recordAttributes[name] = value;
  }
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: recordAttributes,
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        toLambdaAttribute(value),
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}

/** Lambda's camel-cased attribute, binary as base64, and both list fields always present. */
function toLambdaAttribute(value: MessageAttributeValue): SQSMessageAttribute {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  return {
    ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
    ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
    stringListValues: value.StringListValues ?? [],
    binaryListValues: (value.BinaryListValues ?? []).map(base64),
    dataType: value.DataType ?? 'String',
  };
}

/**
 * What Lambda deletes after a successful invocation. Without ReportBatchItemFailures, everything.
 * With it, all but the messages the response lists; no response, or no list, means all succeeded,
 * while a response Lambda cannot read (not an object, a list that is not one, an item without a
 * non-empty itemIdentifier, or one naming a message outside the batch) fails the whole batch.
 */
export function settleBatch(
  records: SQSRecord[],
  response: unknown,
  reportBatchItemFailures: boolean,
): BatchOutcome {
  if (!reportBatchItemFailures) return { succeeded: records, failed: [] };
  const reported = reportedFailures(response);
  if (typeof reported === 'string') return { succeeded: [], failed: records, invalidResponse: reported };
  const unmatched = [...reported].find((id) => !records.some((r) => r.messageId === id));
  if (unmatched !== undefined)
    return {
      succeeded: [],
      failed: records,
      invalidResponse: `itemIdentifier ${unmatched} names no message of the batch`,
    };
  return {
    succeeded: records.filter((r) => !reported.has(r.messageId)),
    failed: records.filter((r) => reported.has(r.messageId)),
  };
}

/** The identifiers a batch response reports as failed, or why the response is unreadable. */
function reportedFailures(response: unknown): Set<string> | string {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object' || Array.isArray(response)) return 'the response is not an object';
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return 'batchItemFailures is not a list';
  const ids = new Set<string>();
  for (const [i, item] of list.entries()) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') return `batchItemFailures[${i}] has no itemIdentifier`;
    ids.add(id);
  }
  return ids;
}

export interface EventSourceMapping {
  logicalId: string;
  properties: Record<string, unknown>;
}

export interface EventSourceMappings {
  /** Mappings on a table's stream. */
  streams: EventSourceMapping[];
  /** Mappings on one of the template's queues, with that queue's logical id. */
  queues: Array<EventSourceMapping & { queueLogicalId: string }>;
}

/**
 * The template's enabled event source mappings by the kind of poller Lambda would run for them.
 * A source with no local stand-in is reported rather than left unpolled.
 */
export function eventSourceMappings(template: CfnTemplate, resolve: Resolver): EventSourceMappings {
  const mappings: EventSourceMappings = { streams: [], queues: [] };
  const queueIds = resourcesOfType(template, 'AWS::SQS::Queue').map(([id]) => id);
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const properties = resource.Properties ?? {};
    if (resolve(properties.Enabled) === false) continue;
    // Checked before resolving: a stream ARN is only known to DynamoDB Local, the resolver has none.
    if (isTableStream(template, properties.EventSourceArn)) {
      mappings.streams.push({ logicalId, properties });
      continue;
    }
    const arn = resolve(properties.EventSourceArn);
    const queueLogicalId = queueIds.find((id) => localQueueArn(id) === arn);
    if (queueLogicalId === undefined)
      throw new Error(
        `event source mapping ${logicalId}: ${JSON.stringify(arn)} is neither a table stream nor a queue of the template`,
      );
    mappings.queues.push({ logicalId, properties, queueLogicalId });
  }
  return mappings;
}

function isTableStream(template: CfnTemplate, eventSourceArn: unknown): boolean {
  const getAtt =
    typeof eventSourceArn === 'object' && eventSourceArn !== null
      ? (eventSourceArn as Record<string, unknown>)['Fn::GetAtt']
      : undefined;
  const [logicalId, attribute] =
    typeof getAtt === 'string' ? getAtt.split('.', 2) : Array.isArray(getAtt) ? getAtt : [];
  return attribute === 'StreamArn' && template.Resources[String(logicalId)]?.Type === 'AWS::DynamoDB::Table';
}
