import { describe, expect, it } from 'vitest';
import { buildHandlerEnv, queueAttributes } from '../../../lambdas/local/provision.js';
import { serviceError } from '../../../lambdas/local/task-handlers.js';
import { type CfnTemplate, createResolver } from '../../../lambdas/local/template.js';

const endpoints = {
  dynamodb: 'http://127.0.0.1:1',
  sqs: 'http://sqs.us-east-1.localhost:2',
  s3: 'http://127.0.0.1:2',
  sfn: 'http://127.0.0.1:3',
};

const fn = (variables: Record<string, unknown>) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Environment: { Variables: variables } },
});

describe('buildHandlerEnv', () => {
  it('merges the functions’ variables, resolved, with the local endpoints', () => {
    const template: CfnTemplate = {
      Resources: {
        Table: { Type: 'AWS::DynamoDB::Table' },
        A: fn({ JOBS_TABLE_NAME: { Ref: 'Table' }, NODE_OPTIONS: '--x' }),
        B: fn({ X: '1' }),
      },
    };
    const env = buildHandlerEnv(template, createResolver(template, { queueUrl: (n) => n }), endpoints);
    expect(env).toMatchObject({
      JOBS_TABLE_NAME: 'Table',
      X: '1',
      AGENT_JOBS_DEPLOYMENT: 'local',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_SFN: endpoints.sfn,
    });
    expect(env.NODE_OPTIONS).toBeUndefined();
  });

  it('refuses two functions that want different values for one name', () => {
    const template: CfnTemplate = { Resources: { A: fn({ X: '1' }), B: fn({ X: '2' }) } };
    expect(() =>
      buildHandlerEnv(template, createResolver(template, { queueUrl: (n) => n }), endpoints),
    ).toThrow(/X differs between functions A \(1\) and B \(2\)/);
  });
});

describe('queueAttributes', () => {
  const template: CfnTemplate = { Resources: { Dlq: { Type: 'AWS::SQS::Queue' } } };
  const resolve = createResolver(template, { queueUrl: (n) => n });

  it('turns CloudFormation properties into SQS attributes', () => {
    const props = {
      VisibilityTimeout: 30,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 },
      SqsManagedSseEnabled: true,
    };
    expect(queueAttributes('Q', props, resolve)).toEqual({
      VisibilityTimeout: '30',
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:Dlq","maxReceiveCount":3}',
    });
  });

  it('names a property it has no mapping for', () => {
    expect(() => queueAttributes('Q', { Mystery: 1 }, resolve)).toThrow(
      /queue Q: no local mapping for Mystery/,
    );
  });
});

describe('serviceError', () => {
  it('prefixes the SDK error name with the service, as Step Functions does', () => {
    const sdk = Object.assign(new Error('The conditional request failed'), {
      name: 'ConditionalCheckFailedException',
    });
    const err = serviceError('DynamoDB', sdk);
    expect(err.name).toBe('DynamoDB.ConditionalCheckFailedException');
    expect(err.message).toBe('The conditional request failed');
  });
});
