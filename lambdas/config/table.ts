/** Table layout shared by the CDK table construct, the store adapter and the workflow's DynamoDB tasks. */
export const TABLE_KEYS = {
  partition: 'PK',
  sort: 'SK',
  listIndex: 'GSI1',
  listPartition: 'GSI1PK',
  listSort: 'GSI1SK',
  ttl: 'ttl',
  /** Sparse: only live (non-terminal) jobs carry GSI2PK/GSI2SK, so the sweep reads just those. */
  liveIndex: 'GSI2',
  livePartition: 'GSI2PK',
  liveSort: 'GSI2SK',
} as const;

/**
 * What the list index projects besides its keys: a listed job's summary (API contract v1.1: no
 * input, no result) and what the list filters on. Neither large values nor what only a step
 * needs (agent state, answer): each step rewrites the job, and the index write is billed by the
 * projected size. A field added to the summary must be added here.
 */
export const LIST_INDEX_ATTRIBUTES = [
  'tenant',
  'id',
  'agent',
  'status',
  'attempt',
  'metadata',
  'metadataRef',
  'progress',
  'error',
  'inputRequest',
  'createdAt',
  'updatedAt',
  'startedAt',
  'completedAt',
  'expiresAt',
  'usage',
  'agentVersion',
  // API key items are listed through the same index (partition KEYS): what `keys list` shows.
  'keyId',
  'name',
  'revokedAt',
];

/** What the live index projects besides its keys: just what the sweep needs to judge and repair a job. */
export const LIVE_INDEX_ATTRIBUTES = ['tenant', 'id', 'status', 'executionName', 'createdAt'];

/** Live jobs spread over this many index partitions, so no single one takes every job write. */
export const LIVE_SHARDS = 4;

const stableHash = (text: string) => {
  let hash = 0;
  for (const ch of text) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash;
};

export const LIVE_SHARD_PREFIX = 'LIVE#';

/** The live-index partition of a job: a stable hash of its id. */
export function liveShard(id: string): string {
  return `${LIVE_SHARD_PREFIX}${stableHash(id) % LIVE_SHARDS}`;
}

/**
 * Webhook deliveries still owed an attempt share the sparse GSI2 under their own partitions, sorted
 * by when their next attempt is due, so the sweep finds overdue ones without touching live jobs.
 */
export const DELIVERY_SHARD_PREFIX = 'DLV#';
export const deliveryShard = (pk: string, sk: string) =>
  `${DELIVERY_SHARD_PREFIX}${stableHash(`${pk}|${sk}`) % LIVE_SHARDS}`;

/** Task token of a job's wait for input: written by the workflow, read by the stream consumer. */
export const INPUT_TOKEN_ATTRIBUTE = 'inputToken';

/** Sort key of a job's own item (API keys and events share the table). */
export const JOB_SK = 'JOB';

/** A job's partition: its item, its events and its webhook deliveries. */
export const jobPk = (tenant: string, id: string) => `T#${tenant}#J#${id}`;
/** A tenant's partition of the list index. */
export const tenantPk = (tenant: string) => `T#${tenant}`;

/** Where a job sorts in the list index and the live index: by creation, then id. */
export interface IndexPosition {
  createdAt: string;
  id: string;
}
export const listSk = (p: IndexPosition) => `${p.createdAt}#${p.id}`;
export function positionOf(sortKey: string): IndexPosition {
  const cut = sortKey.lastIndexOf('#');
  return { createdAt: sortKey.slice(0, cut), id: sortKey.slice(cut + 1) };
}

/** An Idempotency-Key's item: which job the key created. */
export const idempotencyKey = (tenant: string, keyId: string) => ({
  [TABLE_KEYS.partition]: `T#${tenant}#I#${keyId}`,
  [TABLE_KEYS.sort]: 'IDEMPOTENCY',
});

/** Where the sweep stopped reading the live index, so the next run goes on from there. */
export const SWEEP_CURSOR_KEY = { [TABLE_KEYS.partition]: 'SWEEP', [TABLE_KEYS.sort]: 'CURSOR' } as const;
/** Where the sweep stopped reading the overdue webhook deliveries (GSI2's `DLV#` partitions). */
export const DELIVERY_SWEEP_CURSOR_KEY = {
  [TABLE_KEYS.partition]: 'SWEEP',
  [TABLE_KEYS.sort]: 'DELIVERIES',
} as const;

/** A job's events sit in its partition under `E#<seq, zero-padded>`, so they sort by seq. */
export const EVENT_SK_PREFIX = 'E#';
const EVENT_SEQ_DIGITS = 10;
export const eventSk = (seq: number) => `${EVENT_SK_PREFIX}${String(seq).padStart(EVENT_SEQ_DIGITS, '0')}`;

/** A job's webhook deliveries sit in its partition under `D#<seq of the event they deliver>`. */
export const DELIVERY_SK_PREFIX = 'D#';
export const deliverySk = (seq: number) =>
  `${DELIVERY_SK_PREFIX}${String(seq).padStart(EVENT_SEQ_DIGITS, '0')}`;

/**
 * Partition-key prefixes of the tenancy items, shared with IAM (`dynamodb:LeadingKeys`): API keys
 * (`K#<keyId>`), a tenant's limits (`TENANT#<tenant>`), its request-rate bucket (`RATE#<tenant>`),
 * its open SSE streams (`STREAMS#<tenant>`), its running-job slots and queue, and the one list-index
 * partition that lists every key.
 */
export const TENANCY_KEYS = {
  apiKey: 'K#',
  limits: 'TENANT#',
  rate: 'RATE#',
  streams: 'STREAMS#',
  keyList: 'KEYS',
  /** A tenant's running-job slots and queued-job count (lambdas/adapters/dynamo-job-slots.ts). */
  slots: 'SLOTS#',
  /** A tenant's queue: one item per job waiting for a slot, sorted by job id (submit order). */
  queue: 'QUEUE#',
} as const;

/** A tenant's usage counters of one UTC day (`YYYY-MM-DD`): in its limits partition, sorted by day. */
export const USAGE_SK_PREFIX = 'USAGE#';
export const usageKey = (tenant: string, day: string) => ({
  [TABLE_KEYS.partition]: `${TENANCY_KEYS.limits}${tenant}`,
  [TABLE_KEYS.sort]: `${USAGE_SK_PREFIX}${day}`,
});

/** A tenant's model-token bucket, beside its request-rate bucket. */
export const tokenBucketKey = (tenant: string) => ({
  [TABLE_KEYS.partition]: `${TENANCY_KEYS.rate}${tenant}`,
  [TABLE_KEYS.sort]: 'TOKENS',
});

/**
 * Every tenant's slots item also sits in this one partition of the sparse live index, so the sweep
 * finds the tenants that hold slots or have jobs queued without reading any job.
 */
export const SLOTS_INDEX_PARTITION = 'SLOTS';
