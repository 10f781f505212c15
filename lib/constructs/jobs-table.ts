import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { maxJobTimeoutSeconds } from '../../lambdas/agents/catalog.js';
import { ENV } from '../../lambdas/config/env.js';
import {
  LIST_INDEX_ATTRIBUTES,
  LIVE_INDEX_ATTRIBUTES,
  TABLE_KEYS,
  TENANCY_KEYS,
} from '../../lambdas/config/table.js';
import { valuesExpiryDays } from '../../lambdas/domain/large-values.js';
import type { TenantLimits } from '../../lambdas/domain/tenant-limits.js';
import { JobValuesBucket, type ValuesAccess } from './job-values-bucket.js';

export const JOBS_INDEX = TABLE_KEYS.listIndex;

export type TableAction =
  'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem' | 'Query' | 'DescribeTable';

/** `read` and `readWrite` are the common shapes; a list grants exactly those actions and nothing more. */
export type TableAccess = 'read' | 'readWrite' | readonly TableAction[];

const ACCESS_PRESETS: Record<'read' | 'readWrite', readonly TableAction[]> = {
  read: ['GetItem', 'Query'],
  readWrite: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
};

export interface JobsTableProps {
  readonly deletionProtection: boolean;
  /** Days finished jobs stay readable; every function using the table writes expiries from it. */
  readonly retention: { readonly succeededDays: number; readonly failedDays: number };
}

/**
 * The single table that holds jobs, their idempotency records and API keys, and the bucket their
 * large values live in. GSI1 lists a tenant's jobs newest first; GSI2 (sparse) holds only live
 * jobs, for the sweep; the stream drives execution start and cancellation.
 */
export class JobsTable extends Construct {
  public readonly table: dynamodb.Table;
  /** Job values too large for the job item (claim-check), kept as long as a job can refer to them. */
  public readonly values: JobValuesBucket;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: JobsTableProps,
  ) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_KEYS.ttl,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The AWS-managed key keeps data encrypted without a key policy for every reader to maintain.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: JOBS_INDEX,
      partitionKey: { name: TABLE_KEYS.listPartition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.listSort, type: dynamodb.AttributeType.STRING },
      // What a listed job shows, not what only a step or a read of the job needs: every step
      // rewrites the item, and DynamoDB bills the index write by the projected size.
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: LIST_INDEX_ATTRIBUTES,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_KEYS.liveIndex,
      partitionKey: { name: TABLE_KEYS.livePartition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.liveSort, type: dynamodb.AttributeType.STRING },
      // Just what the sweep needs to judge and repair a job, so the index stays small.
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: LIVE_INDEX_ATTRIBUTES,
    });
    this.values = new JobValuesBucket(this, 'Values', {
      expirationDays: valuesExpiryDays(props.retention, maxJobTimeoutSeconds()),
      retain: props.deletionProtection,
    });
  }

  /** Lets the function read (or also write) the job values kept outside the table, and names the bucket. */
  public bindValues(fn: LambdaFunction, access: ValuesAccess): void {
    this.values.bindValues(fn, access);
  }

  /** Lets the function query the sparse index of live jobs (and names the table), nothing else. */
  public grantLiveQuery(fn: LambdaFunction): void {
    fn.addEnvironment(ENV.tableName, this.table.tableName);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.table.tableArn}/index/${TABLE_KEYS.liveIndex}`],
      }),
    );
  }

  /** Tells the function which table to use and lets it do exactly `access` on it, in one call. */
  public bindTable(fn: LambdaFunction, access: TableAccess): void {
    fn.addEnvironment(ENV.tableName, this.table.tableName);
    const actions = typeof access === 'string' ? ACCESS_PRESETS[access] : access;
    // Only updates finish jobs, and a finished job's expiry is where retention applies.
    if (actions.includes('UpdateItem')) {
      fn.addEnvironment(ENV.retentionSucceededDays, String(this.props.retention.succeededDays));
      fn.addEnvironment(ENV.retentionFailedDays, String(this.props.retention.failedDays));
    }
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: actions.map((a) => `dynamodb:${a}`),
        resources: [this.table.tableArn],
      }),
    );
    if (actions.includes('Query')) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [`${this.table.tableArn}/index/${JOBS_INDEX}`],
        }),
      );
    }
  }

  /**
   * Lets the function do `actions` only on items whose partition key matches one of `leadingKeys`
   * (IAM `dynamodb:LeadingKeys`), e.g. the rate-limit items and nothing else.
   */
  public grantItems(
    fn: LambdaFunction,
    actions: readonly TableAction[],
    leadingKeys: readonly string[],
  ): void {
    fn.addEnvironment(ENV.tableName, this.table.tableName);
    fn.addToRolePolicy(this.itemsStatement(actions, leadingKeys));
  }

  /**
   * What admitting queued jobs takes (the stream consumer, the sweep): the tenants' slots and queue
   * items and limits, the job's status checked in the admission transaction, and the defaults of
   * tenants without limits of their own.
   */
  public grantSlots(fn: LambdaFunction, defaultLimits: TenantLimits): void {
    fn.addEnvironment(ENV.defaultLimits, JSON.stringify(defaultLimits));
    this.grantItems(fn, ['GetItem', 'UpdateItem'], [`${TENANCY_KEYS.slots}*`]);
    // Delete is allowed on queue entries only: admission and release remove a job's entry.
    this.grantItems(fn, ['GetItem', 'PutItem', 'DeleteItem', 'Query'], [`${TENANCY_KEYS.queue}*`]);
    this.grantItems(fn, ['GetItem'], [`${TENANCY_KEYS.limits}*`]);
    // Job items (`T#<tenant>#J#<id>`): a slot holder's status, and the admission's status check.
    this.grantItems(fn, ['GetItem', 'ConditionCheckItem'], ['T#*']);
  }

  /**
   * What the operator CLI needs for `keys` and `tenants`: the key and limits items and the key list
   * (one partition of the list index), nothing of the jobs. Attach it to the operators' role.
   */
  public tenancyAdminPolicy(scope: Construct, id: string): iam.ManagedPolicy {
    return new iam.ManagedPolicy(scope, id, {
      description:
        "agent-jobs operator CLI: create, list and revoke API keys; show and set tenant limits; a tenant's usage",
      statements: [
        this.itemsStatement(
          ['GetItem', 'PutItem', 'UpdateItem', 'Query'],
          [`${TENANCY_KEYS.apiKey}*`, `${TENANCY_KEYS.limits}*`],
        ),
        new iam.PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [`${this.table.tableArn}/index/${JOBS_INDEX}`],
          conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [TENANCY_KEYS.keyList] } },
        }),
      ],
    });
  }

  private itemsStatement(
    actions: readonly TableAction[],
    leadingKeys: readonly string[],
  ): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: actions.map((a) => `dynamodb:${a}`),
      resources: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...leadingKeys] } },
    });
  }
}
