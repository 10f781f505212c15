import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

export type Resolver = (value: unknown) => unknown;

/** Where the local stand-ins of template resources live; only queues have an address we learn at run time. */
export interface LocalPhysicalIds {
  queueUrl(queueName: string): string;
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT_ID,
  'AWS::URLSuffix': 'amazonaws.com',
};

const SQS_MAX_NAME = 80;

export function localQueueName(logicalId: string): string {
  return logicalId.slice(0, SQS_MAX_NAME);
}

export function localQueueArn(logicalId: string): string {
  return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${localQueueName(logicalId)}`;
}

export function localStateMachineArn(logicalId: string): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${logicalId}`;
}

/** S3 bucket names are lowercase, 3 to 63 characters. */
export function localBucketName(logicalId: string): string {
  return logicalId.toLowerCase().slice(0, 63);
}

export function localFunctionArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${logicalId}`;
}

/**
 * Synthesizes the real CDK app in-process, so the local stack runs exactly what `cdk deploy` would
 * create. Imported lazily: loading aws-cdk-lib takes a while and overlaps the emulators' start-up.
 */
export async function synthesizeTemplate(): Promise<CfnTemplate> {
  // The CloudFormation validation plugin triples synth time; `cdk synth` and the construct tests run it.
  process.env.CDK_VALIDATION ??= 'false';
  const outdir = await mkdtemp(join(tmpdir(), 'agent-jobs-synth-'));
  try {
    const { createApp } = await import('../../lib/app.js');
    const { app, stack } = createApp({ skipBundling: true, outdir });
    const assembly = app.synth();
    return assembly.getStackArtifact(stack.artifactId).template as CfnTemplate;
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

type Intrinsic = (args: unknown, resolve: Resolver) => unknown;

/** Resolves the intrinsic functions CDK emits, mapping each resource to its local stand-in. */
export function createResolver(template: CfnTemplate, ids: LocalPhysicalIds): Resolver {
  const ref = (logicalId: string): string => {
    const pseudo = PSEUDO_PARAMETERS[logicalId];
    if (pseudo !== undefined) return pseudo;
    const type = resourceType(template, logicalId, 'Ref');
    const byType: Record<string, () => string> = {
      'AWS::DynamoDB::Table': () => logicalId,
      'AWS::SQS::Queue': () => ids.queueUrl(localQueueName(logicalId)),
      'AWS::StepFunctions::StateMachine': () => localStateMachineArn(logicalId),
      'AWS::Lambda::Function': () => logicalId,
      'AWS::S3::Bucket': () => localBucketName(logicalId),
    };
    return (byType[type] ?? unresolvable('Ref', logicalId, type))();
  };

  const getAtt = (logicalId: string, attribute: string): string => {
    const type = resourceType(template, logicalId, 'Fn::GetAtt');
    const byTypeAndAttribute: Record<string, () => string> = {
      'AWS::DynamoDB::Table.Arn': () =>
        `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:table/${logicalId}`,
      'AWS::SQS::Queue.Arn': () => localQueueArn(logicalId),
      'AWS::SQS::Queue.QueueName': () => localQueueName(logicalId),
      'AWS::SQS::Queue.QueueUrl': () => ids.queueUrl(localQueueName(logicalId)),
      'AWS::Lambda::Function.Arn': () => localFunctionArn(logicalId),
      'AWS::StepFunctions::StateMachine.Arn': () => localStateMachineArn(logicalId),
      'AWS::StepFunctions::StateMachine.Name': () => logicalId,
      'AWS::S3::Bucket.Arn': () => `arn:aws:s3:::${localBucketName(logicalId)}`,
      'AWS::IAM::Role.Arn': () => `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${logicalId}`,
    };
    const key = `${type}.${attribute}`;
    return (byTypeAndAttribute[key] ?? unresolvable('Fn::GetAtt', `${logicalId}.${attribute}`, type))();
  };

  const intrinsics: Record<string, Intrinsic> = {
    Ref: (args) => ref(asString(args, 'Ref')),
    'Fn::GetAtt': (args, resolve) => {
      const [logicalId, attribute] =
        typeof args === 'string' ? args.split('.', 2) : (resolve(args) as string[]);
      return getAtt(asString(logicalId, 'Fn::GetAtt'), asString(attribute, 'Fn::GetAtt'));
    },
    'Fn::Join': (args, resolve) => {
      const [separator, parts] = resolve(args) as [string, unknown[]];
      return parts.map((p) => asString(p, 'Fn::Join')).join(separator);
    },
    'Fn::Select': (args, resolve) => {
      const [index, list] = resolve(args) as [number | string, unknown[]];
      const picked = list[Number(index)];
      if (picked === undefined) throw new Error(`Fn::Select index ${index} is out of range`);
      return picked;
    },
    'Fn::Split': (args, resolve) => {
      const [separator, source] = resolve(args) as [string, string];
      return asString(source, 'Fn::Split').split(separator);
    },
  };

  const resolve: Resolver = (value) => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined && isIntrinsicName(first[0])) {
      const fn = intrinsics[first[0]];
      if (!fn) throw new Error(`the local stack cannot resolve ${first[0]}: ${JSON.stringify(value)}`);
      return fn(first[1], resolve);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}

const isIntrinsicName = (key: string) => key === 'Ref' || key.startsWith('Fn::');

function resourceType(template: CfnTemplate, logicalId: string, fn: string): string {
  const resource = template.Resources[logicalId];
  if (!resource)
    throw new Error(`${fn} to ${logicalId}: no such resource or pseudo parameter in the template`);
  return resource.Type;
}

function unresolvable(fn: string, target: string, type: string): () => never {
  return () => {
    throw new Error(`the local stack cannot resolve ${fn} ${target} (${type}): add a local mapping for it`);
  };
}

function asString(value: unknown, fn: string): string {
  if (typeof value !== 'string') throw new Error(`${fn} expected a string, got ${JSON.stringify(value)}`);
  return value;
}

export function resourcesOfType(template: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}
