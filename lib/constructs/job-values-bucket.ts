import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { VALUES_PREFIX } from '../../lambdas/adapters/large-value-store.js';
import { ENV } from '../../lambdas/config/env.js';
import { nagAttRef } from './nag-ref.js';

export type ValuesAccess = 'read' | 'readWrite';

const ACTIONS: Record<ValuesAccess, string[]> = {
  read: ['s3:GetObject'],
  readWrite: ['s3:GetObject', 's3:PutObject'],
};

export interface JobValuesBucketProps {
  /** Days an object is kept: at least as long as the job that refers to it can exist. */
  readonly expirationDays: number;
  /** Keep the bucket (and its objects) when the stack is deleted, as the table is kept. */
  readonly retain: boolean;
}

/**
 * Where job values too large for the job item live (claim-check): encrypted, reachable only over
 * TLS, never public, and emptied by a lifecycle rule once no job can refer to an object any more.
 */
export class JobValuesBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: JobValuesBucketProps) {
    super(scope, id);
    if (!Number.isInteger(props.expirationDays) || props.expirationDays < 1) {
      throw new Error(
        `expirationDays must be a whole number of days, at least 1 (got ${props.expirationDays})`,
      );
    }
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      lifecycleRules: [
        {
          id: 'expire-with-jobs',
          prefix: VALUES_PREFIX,
          expiration: Duration.days(props.expirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the stack functions read and write these objects, each under its own IAM role; server access logs would need a second bucket per stack, and S3 data events in CloudTrail cover auditing where an account wants it.',
    });
  }

  /** Tells the function which bucket holds job values and lets it do exactly `access` on them, in one call. */
  public bindValues(fn: LambdaFunction, access: ValuesAccess): void {
    fn.addEnvironment(ENV.valuesBucket, this.bucket.bucketName);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ACTIONS[access],
        resources: [this.bucket.arnForObjects(`${VALUES_PREFIX}*`)],
      }),
    );
    // The grant lands in the role's policy, which is not under the function in the construct tree.
    Validations.of(fn.role ?? fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagAttRef(this.bucket)}/${VALUES_PREFIX}*]`,
      reason:
        'Object keys are random per value and per job: the grant is scoped to the prefix job values are written under, in this one bucket.',
    });
  }
}
