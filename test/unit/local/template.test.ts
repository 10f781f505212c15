import { describe, expect, it } from 'vitest';
import { type CfnTemplate, createResolver } from '../../../lambdas/local/template.js';

const template: CfnTemplate = {
  Resources: {
    JobsTable: { Type: 'AWS::DynamoDB::Table' },
    StartDlq: { Type: 'AWS::SQS::Queue' },
    [`Q${'x'.repeat(99)}`]: { Type: 'AWS::SQS::Queue' },
    StepFn: { Type: 'AWS::Lambda::Function' },
    Machine: { Type: 'AWS::StepFunctions::StateMachine' },
    Role: { Type: 'AWS::IAM::Role' },
    Logs: { Type: 'AWS::Logs::LogGroup' },
    JobsValuesBucketB00C89FD: { Type: 'AWS::S3::Bucket' },
  },
};

const resolve = createResolver(template, { queueUrl: (name) => `http://sqs.local:1/000000000000/${name}` });

describe('createResolver', () => {
  it('resolves pseudo parameters', () => {
    expect(
      resolve({
        'Fn::Join': [
          ':',
          [
            { Ref: 'AWS::Partition' },
            { Ref: 'AWS::Region' },
            { Ref: 'AWS::AccountId' },
            { Ref: 'AWS::URLSuffix' },
          ],
        ],
      }),
    ).toBe('aws:us-east-1:000000000000:amazonaws.com');
  });

  it('maps resources to their local stand-ins', () => {
    expect(resolve({ Ref: 'JobsTable' })).toBe('JobsTable');
    expect(resolve({ Ref: 'StartDlq' })).toBe('http://sqs.local:1/000000000000/StartDlq');
    expect(resolve({ 'Fn::GetAtt': ['StartDlq', 'Arn'] })).toBe(
      'arn:aws:sqs:us-east-1:000000000000:StartDlq',
    );
    expect(resolve({ 'Fn::GetAtt': ['StepFn', 'Arn'] })).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:StepFn',
    );
    expect(resolve({ Ref: 'Machine' })).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:Machine');
    expect(resolve({ 'Fn::GetAtt': 'Role.Arn' })).toBe('arn:aws:iam::000000000000:role/Role');
    // Bucket names are lowercase DNS labels.
    expect(resolve({ Ref: 'JobsValuesBucketB00C89FD' })).toBe('jobsvaluesbucketb00c89fd');
    expect(resolve({ 'Fn::GetAtt': ['JobsValuesBucketB00C89FD', 'Arn'] })).toBe(
      'arn:aws:s3:::jobsvaluesbucketb00c89fd',
    );
  });

  it('trims queue names to the 80 characters SQS allows', () => {
    const url = resolve({ Ref: `Q${'x'.repeat(99)}` }) as string;
    expect(url.split('/').pop()).toHaveLength(80);
  });

  it('resolves the DefinitionString shape CDK emits, nested in plain objects and arrays', () => {
    const definition = {
      'Fn::Join': [
        '',
        ['{"Resource":"', { 'Fn::GetAtt': ['StepFn', 'Arn'] }, '","Table":"', { Ref: 'JobsTable' }, '"}'],
      ],
    };
    expect(resolve({ a: [definition, 1, null], b: 'plain' })).toEqual({
      a: [
        '{"Resource":"arn:aws:lambda:us-east-1:000000000000:function:StepFn","Table":"JobsTable"}',
        1,
        null,
      ],
      b: 'plain',
    });
  });

  it('supports Fn::Select over Fn::Split', () => {
    expect(resolve({ 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] })).toBe('b');
  });

  it('names the token it cannot resolve', () => {
    expect(() => resolve({ 'Fn::GetAtt': ['Logs', 'Arn'] })).toThrow(
      /Fn::GetAtt Logs\.Arn \(AWS::Logs::LogGroup\)/,
    );
    expect(() => resolve({ Ref: 'Nope' })).toThrow(/Nope/);
    expect(() => resolve({ 'Fn::Sub': 'x' })).toThrow(/Fn::Sub/);
    expect(() => resolve({ 'Fn::Select': [5, ['a']] })).toThrow(/out of range/);
  });
});
