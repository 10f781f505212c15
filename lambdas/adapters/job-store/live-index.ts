import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LIVE_SHARD_PREFIX, SWEEP_CURSOR_KEY, TABLE_KEYS } from '../../config/table.js';
import type { LiveJob, SweepCursor } from '../../domain/job-store.js';
import { querySweepPage, readSweepCursor, saveSweepCursor } from '../dynamo-table.js';

/** The sweep's view of the table: live jobs from the sparse live index, and where it stopped reading. */
export class LiveIndex {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient,
  ) {}

  async listLivePage(before: string, from: SweepCursor, limit: number) {
    const page = await querySweepPage(this.client, this.tableName, LIVE_SHARD_PREFIX, before, from, limit);
    const jobs: LiveJob[] = page.items.map((i) => ({
      tenant: i.tenant,
      jobId: i.id,
      pk: i[TABLE_KEYS.partition],
      status: i.status,
      executionName: i.executionName,
      createdAt: i.createdAt,
    }));
    return { jobs, next: page.next };
  }

  sweepCursor(): Promise<SweepCursor> {
    return readSweepCursor(this.client, this.tableName, SWEEP_CURSOR_KEY);
  }

  saveSweepCursor(cursor: SweepCursor): Promise<void> {
    return saveSweepCursor(this.client, this.tableName, SWEEP_CURSOR_KEY, cursor);
  }
}
