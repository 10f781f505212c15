/** Table layout shared by the CDK table construct, the store adapter and the workflow's DynamoDB tasks. */
export const TABLE_KEYS = {
  partition: 'PK',
  sort: 'SK',
  listIndex: 'GSI1',
  listPartition: 'GSI1PK',
  listSort: 'GSI1SK',
  ttl: 'ttl',
} as const;

/** Sort key of a job's own item (API keys and events share the table). */
export const JOB_SK = 'JOB';

/** A job's events sit in its partition under `E#<seq, zero-padded>`, so they sort by seq. */
export const EVENT_SK_PREFIX = 'E#';
const EVENT_SEQ_DIGITS = 10;
export const eventSk = (seq: number) => `${EVENT_SK_PREFIX}${String(seq).padStart(EVENT_SEQ_DIGITS, '0')}`;
