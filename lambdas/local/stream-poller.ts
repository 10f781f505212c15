import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { compileFilterCriteria, type FilterCriteria, type RecordMatcher } from './filter-criteria.js';
import { toLambdaRecord } from './stream-records.js';

export interface StreamPollerOptions {
  ddb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  tableName: string;
  /** The consuming function's ARN, quoted in on-failure records. */
  functionArn: string;
  invoke: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;
  filterCriteria?: FilterCriteria;
  /** Where a batch goes once its retries are exhausted (the mapping's OnFailure destination). */
  onFailureQueueUrl?: string;
  /** Persisted position per shard; without it every start reads from the trim horizon. */
  checkpointFile?: string;
  /** Matching records per invocation at most (the mapping's BatchSize). */
  batchSize?: number;
  /** Retries after the first attempt, like the mapping's MaximumRetryAttempts. */
  maxRetryAttempts?: number;
  /** Split a batch in two when the handler throws, to isolate a bad record (BisectBatchOnFunctionError). */
  bisectOnFunctionError?: boolean;
  retryBaseMs?: number;
  busyPollMs?: number;
  idlePollMs?: number;
}

interface Checkpoint {
  streamArn?: string;
  shards: Record<string, { sequenceNumber?: string; closed?: boolean }>;
}

interface Outcome {
  /** Index of the first record to deliver again, or -1 when the whole batch succeeded. */
  failedAt: number;
  functionError: boolean;
}

const MAX_BACKOFF_MS = 5_000;
/** The most records one GetRecords call returns from a DynamoDB stream. */
const MAX_READ = 1_000;

/**
 * Reads the jobs table's stream from DynamoDB Local and invokes the stream handler with the event
 * Lambda's event source mapping would build: same batching, filtering, partial-failure retries and
 * on-failure destination.
 */
export class StreamPoller {
  private readonly matcher: RecordMatcher;
  private readonly stopper = new AbortController();
  private readonly iterators = new Map<string, string>();
  private checkpoint: Checkpoint = { shards: {} };
  private streamArn?: string;
  private loop?: Promise<void>;
  private rediscover = true;

  constructor(private readonly options: StreamPollerOptions) {
    this.matcher = compileFilterCriteria(options.filterCriteria);
  }

  async start(): Promise<void> {
    this.checkpoint = await loadCheckpoint(this.options.checkpointFile);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private get stopped() {
    return this.stopper.signal.aborted;
  }

  private async run() {
    let delay = this.options.busyPollMs ?? 25;
    while (!this.stopped) {
      const busy = await this.pollOnce().catch((e: unknown) => {
        if (!this.stopped) console.error('stream poller: polling failed; rediscovering shards', e);
        this.iterators.clear();
        this.rediscover = true;
        return false;
      });
      const busyMs = this.options.busyPollMs ?? 25;
      delay = busy ? busyMs : Math.min(this.options.idlePollMs ?? 250, delay * 2);
      await sleep(delay, undefined, { signal: this.stopper.signal }).catch(() => {});
    }
  }

  /**
   * One GetRecords per open shard, of as many records as a read returns, as Lambda reads a
   * shard: the filter applies first and `batchSize` counts matching records, so a consumer that
   * wants few of the table's writes is not held to a few of them per read. True when any records
   * came back.
   */
  private async pollOnce(): Promise<boolean> {
    if (this.rediscover || this.iterators.size === 0) await this.discoverShards();
    let busy = false;
    for (const [shardId, iterator] of [...this.iterators]) {
      const out = await this.options.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: MAX_READ }),
        { abortSignal: this.stopper.signal },
      );
      const records = out.Records ?? [];
      if (records.length > 0) {
        busy = true;
        const matching = records.map((r) => toLambdaRecord(r, this.streamArn!)).filter(this.matcher);
        if (!(await this.deliverInBatches(shardId, matching))) return busy;
        // Past the read's trailing records the filter dropped (its last batch saved the rest).
        const last = records.at(-1)!.dynamodb!.SequenceNumber;
        if (last !== this.checkpoint.shards[shardId]?.sequenceNumber)
          await this.saveCheckpoint(shardId, { sequenceNumber: last });
      }
      if (out.NextShardIterator) this.iterators.set(shardId, out.NextShardIterator);
      else await this.closeShard(shardId);
    }
    return busy;
  }

  private async closeShard(shardId: string) {
    this.iterators.delete(shardId);
    await this.saveCheckpoint(shardId, { ...this.checkpoint.shards[shardId], closed: true });
    // A closed shard has children (or soon will): look again, so they are read after their parent.
    this.rediscover = true;
  }

  private async discoverShards() {
    this.streamArn ??= await this.latestStreamArn();
    if (this.checkpoint.streamArn !== this.streamArn)
      this.checkpoint = { streamArn: this.streamArn, shards: {} };
    const shards = await this.listShards();
    const known = new Set(shards.map((s) => s.ShardId));
    const done = (id: string | undefined) =>
      !id || !known.has(id) || this.checkpoint.shards[id]?.closed === true;
    for (const shard of shards) {
      const id = shard.ShardId!;
      if (done(id) || !done(shard.ParentShardId) || this.iterators.has(id)) continue;
      this.iterators.set(id, await this.shardIterator(id));
    }
    this.rediscover = false;
  }

  private async latestStreamArn(): Promise<string> {
    const { Table } = await this.options.ddb.send(
      new DescribeTableCommand({ TableName: this.options.tableName }),
    );
    if (!Table?.LatestStreamArn) throw new Error(`table ${this.options.tableName} has no stream`);
    return Table.LatestStreamArn;
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.options.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  private async shardIterator(shardId: string): Promise<string> {
    const after = this.checkpoint.shards[shardId]?.sequenceNumber;
    const { ShardIterator } = await this.options.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return ShardIterator!;
  }

  /**
   * The records in order, `batchSize` an invocation, the position saved after each batch: a restart
   * delivers again only what was not. False when stopped midway.
   */
  private async deliverInBatches(shardId: string, records: DynamoDBRecord[]): Promise<boolean> {
    const size = this.options.batchSize ?? 100;
    for (let i = 0; i < records.length; i += size) {
      const batch = records.slice(i, i + size);
      if (!(await this.deliver(shardId, batch))) return false;
      await this.saveCheckpoint(shardId, { sequenceNumber: batch.at(-1)!.dynamodb!.SequenceNumber });
    }
    return true;
  }

  /**
   * Delivers the records, retrying from the first failed one with exponential backoff, then hands
   * what still fails to the on-failure destination. False only when stopped midway (not checkpointed:
   * the next start delivers those records again, as Lambda would).
   */
  private async deliver(shardId: string, records: DynamoDBRecord[]): Promise<boolean> {
    let pending = records;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const outcome = await this.invoke(pending);
      if (outcome.failedAt < 0) return true;
      pending = pending.slice(outcome.failedAt);
      if (outcome.functionError && this.options.bisectOnFunctionError && pending.length > 1) {
        // Splitting does not count against the retries, as in Lambda.
        const half = Math.ceil(pending.length / 2);
        return (
          (await this.deliver(shardId, pending.slice(0, half))) && this.deliver(shardId, pending.slice(half))
        );
      }
      if (attempt > (this.options.maxRetryAttempts ?? 8)) {
        await this.sendToOnFailure(shardId, pending, attempt, outcome.functionError);
        return true;
      }
      const backoff = Math.min(MAX_BACKOFF_MS, (this.options.retryBaseMs ?? 100) * 2 ** (attempt - 1));
      const stopped = await sleep(backoff, false, { signal: this.stopper.signal }).catch(() => true);
      if (stopped) return false;
    }
    return true;
  }

  private async invoke(records: DynamoDBRecord[]): Promise<Outcome> {
    try {
      const response = await this.options.invoke({ Records: records });
      return { failedAt: firstFailure(records, response), functionError: false };
    } catch (e) {
      console.error('stream handler failed; the batch will be retried', e);
      return { failedAt: 0, functionError: true };
    }
  }

  private async sendToOnFailure(
    shardId: string,
    records: DynamoDBRecord[],
    invokeCount: number,
    functionError: boolean,
  ) {
    const first = records[0]!.dynamodb!;
    const last = records.at(-1)!.dynamodb!;
    const arrival = (d: typeof first) => new Date((d.ApproximateCreationDateTime ?? 0) * 1000).toISOString();
    const message = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: this.options.functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: invokeCount,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(functionError ? { functionError: 'Unhandled' } : {}),
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber,
        endSequenceNumber: last.SequenceNumber,
        approximateArrivalOfFirstRecord: arrival(first),
        approximateArrivalOfLastRecord: arrival(last),
        batchSize: records.length,
        streamArn: this.streamArn,
      },
    };
    console.error(
      `stream poller: ${records.length} record(s) failed ${invokeCount} times; sent to the on-failure queue`,
    );
    if (!this.options.onFailureQueueUrl) return;
    await this.options.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.options.onFailureQueueUrl,
        MessageBody: JSON.stringify(message),
      }),
    );
  }

  private async saveCheckpoint(shardId: string, state: Checkpoint['shards'][string]) {
    this.checkpoint.shards[shardId] = state;
    const file = this.options.checkpointFile;
    if (!file) return;
    await writeFile(`${file}.tmp`, JSON.stringify(this.checkpoint));
    await rename(`${file}.tmp`, file);
  }
}

/**
 * Lambda's partial batch response: retry from the earliest failed record. An identifier that names
 * no record of the batch makes the whole batch count as failed.
 */
export function firstFailure(records: DynamoDBRecord[], response: DynamoDBBatchResponse | undefined): number {
  const failures = response?.batchItemFailures ?? [];
  if (failures.length === 0) return -1;
  const indexes = failures.map((f) =>
    records.findIndex((r) => r.dynamodb?.SequenceNumber === f.itemIdentifier),
  );
  return indexes.includes(-1) ? 0 : Math.min(...indexes);
}

async function loadCheckpoint(file: string | undefined): Promise<Checkpoint> {
  if (!file) return { shards: {} };
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { shards: {} };
    throw e;
  }
}
