/** Table layout shared by the CDK table construct, the store adapter and the workflow's DynamoDB tasks. */
export const TABLE_KEYS = {
  partition: 'PK',
  sort: 'SK',
  listIndex: 'GSI1',
  listPartition: 'GSI1PK',
  listSort: 'GSI1SK',
  ttl: 'ttl',
} as const;

/** Sort key of a job's own item (API keys and, later, events share the table). */
export const JOB_SK = 'JOB';
