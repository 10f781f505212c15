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
import { ShardLanes } from './shard-lanes.js';
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
  /**
   * Batches of one shard in flight at once (ParallelizationFactor): records are spread over that
   * many lanes by their item's keys, so one item's records stay in order, in one lane.
   */
  parallelizationFactor?: number;
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
/** Records read ahead of delivery per shard, at most, before reading pauses. */
const MAX_BACKLOG = 2 * MAX_READ;

/**
 * Reads the jobs table's stream from DynamoDB Local and invokes the stream handler with the event
 * Lambda's event source mapping would build: same batching, filtering, partial-failure retries and
 * on-failure destination.
 */
export class StreamPoller {
  private readonly matcher: RecordMatcher;
  private readonly stopper = new AbortController();
  private readonly iterators = new Map<string, string>();
  private readonly lanes = new Map<string, ShardLanes>();
  private checkpoint: Checkpoint = { shards: {} };
  private streamArn?: string;
  private loop?: Promise<void>;
  private rediscover = true;
  private wake?: () => void;

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
    await Promise.all([...this.lanes.values()].map((l) => l.settled()));
  }

  private get stopped() {
    return this.stopper.signal.aborted;
  }

  private async run() {
    const busyMs = this.options.busyPollMs ?? 25;
    let delay = busyMs;
    while (!this.stopped) {
      const busy = await this.pollOnce().catch(async (e: unknown) => {
        if (!this.stopped) console.error('stream poller: polling failed; rediscovering shards', e);
        // Read again from the saved positions: what the lanes still held is delivered again.
        await Promise.all([...this.lanes.values()].map((l) => l.settled()));
        this.lanes.clear();
        this.iterators.clear();
        this.rediscover = true;
        return false;
      });
      delay = busy ? busyMs : Math.min(this.options.idlePollMs ?? 250, delay * 2);
      if (await this.pause(delay)) delay = busyMs;
    }
  }

  /**
   * Waits `ms`, or less when a lane has delivered all it held: Lambda reads a shard's next records
   * as soon as a batch is done, not after an idle back-off that grew while it ran. True when woken.
   */
  private pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.stopper.signal.removeEventListener('abort', stopped);
        this.wake = undefined;
        resolve(woken);
      };
      const stopped = () => done(false);
      const timer = setTimeout(stopped, ms);
      this.stopper.signal.addEventListener('abort', stopped);
      this.wake = () => done(true);
    });
  }

  /**
   * One GetRecords per open shard whose lanes have room, handing the matching records to them;
   * true when any records came back (an empty read backs off, as Lambda polls an idle shard a
   * few times a second).
   */
  private async pollOnce(): Promise<boolean> {
    if (this.rediscover || this.iterators.size === 0) await this.discoverShards();
    let busy = false;
    for (const [shardId, iterator] of [...this.iterators]) {
      const lanes = this.lanesOf(shardId);
      if (lanes.failure !== undefined) throw lanes.failure;
      if (lanes.backlog >= MAX_BACKLOG) continue;
      const out = await this.options.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: MAX_READ }),
        { abortSignal: this.stopper.signal },
      );
      const records = out.Records ?? [];
      if (records.length > 0) {
        const matching = records.map((r) => toLambdaRecord(r, this.streamArn!)).filter(this.matcher);
        lanes.add(matching, records.at(-1)!.dynamodb!.SequenceNumber!);
      }
      busy ||= records.length > 0;
      if (out.NextShardIterator) this.iterators.set(shardId, out.NextShardIterator);
      else await this.closeShard(shardId, lanes);
    }
    return busy;
  }

  /** Lambda's batching of a shard: filtered records, `batchSize` a batch, ParallelizationFactor lanes. */
  private lanesOf(shardId: string): ShardLanes {
    let lanes = this.lanes.get(shardId);
    if (!lanes) {
      lanes = new ShardLanes({
        lanes: this.options.parallelizationFactor ?? 1,
        batchSize: this.options.batchSize ?? 100,
        deliver: (records) => this.deliver(shardId, records),
        checkpoint: (sequenceNumber) => this.saveCheckpoint(shardId, { sequenceNumber }),
        stopped: () => this.stopped,
        drained: () => this.wake?.(),
      });
      this.lanes.set(shardId, lanes);
    }
    return lanes;
  }

  private async closeShard(shardId: string, lanes: ShardLanes) {
    // Children are read only after every record of their parent is delivered.
    await lanes.settled();
    if (lanes.backlog > 0) return;
    this.lanes.delete(shardId);
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
