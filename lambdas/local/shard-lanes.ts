import { createHash } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';

export interface ShardLanesOptions {
  /** Batches in flight at once (the mapping's ParallelizationFactor). */
  lanes: number;
  /** Records per invocation at most (the mapping's BatchSize). */
  batchSize: number;
  /** Delivers one batch, retries and on-failure destination included; false when stopped midway. */
  deliver: (records: DynamoDBRecord[]) => Promise<boolean>;
  /** Saves the shard's position: every record up to this sequence number is delivered. */
  checkpoint: (sequenceNumber: string) => Promise<void>;
  stopped: () => boolean;
  /** A lane has delivered everything it held. */
  drained?: () => void;
}

/** One GetRecords call's share of the backlog: its last sequence number, and records still to deliver. */
interface Read {
  last: string;
  pending: number;
}

interface Entry {
  record: DynamoDBRecord;
  read: Read;
}

/**
 * A shard's records between reading and delivery, handled as Lambda handles a shard with a
 * parallelization factor: each record goes to the lane of its item's keys, and every lane
 * delivers its records in order, in batches, on its own, so a slow batch holds back its own lane
 * only (one item's records are always in one lane, in order). The shard's position moves past a
 * read once all of its records are delivered, so a restart delivers again whatever was not.
 */
export class ShardLanes {
  private readonly queues: Entry[][];
  private readonly workers: (Promise<void> | undefined)[];
  private readonly reads: Read[] = [];
  private saving: Promise<void> = Promise.resolve();
  private error: unknown;

  constructor(private readonly options: ShardLanesOptions) {
    this.queues = Array.from({ length: options.lanes }, () => []);
    this.workers = Array.from({ length: options.lanes }, () => undefined);
  }

  /** Records read and not delivered yet. */
  get backlog(): number {
    return this.reads.reduce((n, read) => n + read.pending, 0);
  }

  /** What stopped a lane (its records stay undelivered), if anything did. */
  get failure(): unknown {
    return this.error;
  }

  /** A read's matching records; `last` is the read's last sequence number, matching or not. */
  add(records: DynamoDBRecord[], last: string): void {
    const read = { last, pending: records.length };
    this.reads.push(read);
    for (const record of records) this.queues[laneOf(record, this.options.lanes)]!.push({ record, read });
    this.queues.forEach((_, lane) => this.wake(lane));
    this.advance();
  }

  /** Resolves once no lane is delivering and the position is saved. */
  async settled(): Promise<void> {
    while (this.workers.some(Boolean)) await Promise.all(this.workers);
    await this.saving;
  }

  private wake(lane: number) {
    if (this.workers[lane] || this.queues[lane]!.length === 0 || this.error !== undefined) return;
    this.workers[lane] = this.drain(lane).then(
      (more) => {
        this.workers[lane] = undefined;
        if (more) this.wake(lane);
        if (more && !this.workers[lane]) this.options.drained?.();
      },
      (e: unknown) => {
        this.error ??= e;
        this.workers[lane] = undefined;
      },
    );
  }

  /** Delivers the lane's records in batches until it is empty; false when stopped. */
  private async drain(lane: number): Promise<boolean> {
    const queue = this.queues[lane]!;
    while (queue.length > 0) {
      if (this.options.stopped()) return false;
      const batch = queue.slice(0, this.options.batchSize);
      if (!(await this.options.deliver(batch.map((e) => e.record)))) return false;
      queue.splice(0, batch.length);
      for (const entry of batch) entry.read.pending -= 1;
      this.advance();
    }
    return true;
  }

  /** Saves the position past every leading read that is fully delivered, one save at a time. */
  private advance() {
    let last: string | undefined;
    while (this.reads[0]?.pending === 0) last = this.reads.shift()!.last;
    if (last === undefined) return;
    this.saving = this.saving
      .then(() => this.options.checkpoint(last))
      .catch((e: unknown) => {
        this.error ??= e;
      });
  }
}

/** The lane of a record: a hash of its item's keys, so one item's records always share one. */
export function laneOf(record: DynamoDBRecord, lanes: number): number {
  const keys = Object.entries(record.dynamodb?.Keys ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(keys)).digest().readUInt32BE(0) % lanes;
}
