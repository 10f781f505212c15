import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.js';
import { LIST_INDEX_ATTRIBUTES } from '../../lambdas/config/table.js';
import { handlerFunctions, logicalId, roleStatements, synth } from './support.js';

describe('jobs table', () => {
  it('is one pay-per-request table keyed PK/SK with TTL, a NEW_AND_OLD_IMAGES stream, PITR and encryption', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it("has GSI1 (a job summary's attributes) for listing a tenant's jobs and a sparse GSI2 of live jobs for the sweep", () => {
    synth().template.hasResourceProperties('AWS::DynamoDB::Table', {
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'GSI1PK', AttributeType: 'S' },
        { AttributeName: 'GSI1SK', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'GSI1',
          KeySchema: [
            { AttributeName: 'GSI1PK', KeyType: 'HASH' },
            { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
          ],
          // Never the input, result, agent state or answer: every step rewrites the job.
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: LIST_INDEX_ATTRIBUTES },
        },
        {
          IndexName: 'GSI2',
          KeySchema: [
            { AttributeName: 'GSI2PK', KeyType: 'HASH' },
            { AttributeName: 'GSI2SK', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: ['tenant', 'id', 'status', 'executionName', 'createdAt'],
          },
        },
      ],
    });
  });

  it('is retained when the stack is deleted', () => {
    synth().template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('turns deletion protection off only when configured to', () => {
    const { stack } = createApp({
      skipBundling: true,
      context: { agentJobs: { deletionProtection: false } },
    });
    expect((stack.jobs.table.node.defaultChild as CfnTable).deletionProtectionEnabled).toBe(false);
  });
});

describe('job values bucket', () => {
  it('is encrypted, TLS-only, never public, and expires objects once no job can refer to them', () => {
    const { template, json } = synth();
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            Prefix: 'jobs/',
            Status: 'Enabled',
            // echo's longest run (1 h) rounds up to a day, 30 live backstop, 30 failed, 1 margin.
            ExpirationInDays: 62,
          }),
        ],
      },
    });
    const policy = Object.values(json.Resources).find((r) => r.Type === 'AWS::S3::BucketPolicy')!;
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('keeps objects as long as the longest retention configured', () => {
    const { stack } = createApp({
      skipBundling: true,
      context: { agentJobs: { jobRetention: { succeededDays: 90, failedDays: 10 } } },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 122 })] },
    });
  });

  it('names the bucket and grants object access only to the functions that show or store large values', () => {
    const { stack, json } = synth();
    const bucketId = logicalId(stack.jobs.values.bucket);
    const expected: Record<string, string[]> = {
      'create-job': ['s3:GetObject', 's3:PutObject'],
      'submit-input': ['s3:GetObject', 's3:PutObject'],
      'agent-step': ['s3:GetObject', 's3:PutObject'],
      'get-job': ['s3:GetObject'],
      'list-jobs': ['s3:GetObject'],
      'cancel-job': ['s3:GetObject'],
    };
    for (const [name, fn] of handlerFunctions(stack)) {
      const env = (json.Resources[logicalId(fn.function)]!.Properties.Environment as { Variables: object })
        .Variables as Record<string, unknown>;
      const s3 = roleStatements(json, logicalId(fn.role)).filter((st) =>
        st.actions.some((a) => a.startsWith('s3:')),
      );
      if (expected[name]) {
        expect(env.JOB_VALUES_BUCKET, name).toEqual({ Ref: bucketId });
        expect(s3.flatMap((st) => st.actions).sort(), name).toEqual(expected[name]);
        expect(JSON.stringify(s3[0]!.resource), name).toContain('/jobs/*');
      } else {
        expect(env.JOB_VALUES_BUCKET, name).toBeUndefined();
        expect(s3, name).toEqual([]);
      }
    }
  });
});
