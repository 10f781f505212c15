import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionQueues } from '../../../lambdas/local/provision.js';
import { type SqsLocal, startSqsLocal } from '../../../lambdas/local/sqs-local.js';
import {
  type CfnTemplate,
  createResolver,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  localQueueName,
} from '../../../lambdas/local/template.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

const template = (visibilityTimeout: number): CfnTemplate => ({
  Resources: {
    Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600 } },
    Work: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        VisibilityTimeout: visibilityTimeout,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 },
      },
    },
  },
});

/** One run of the local SQS/S3 service on `dataDir`, its queues provisioned from `t`. */
async function run(dataDir: string, t: CfnTemplate) {
  const local = await startSqsLocal({ dataDir });
  const sqs = new SQSClient({ region: LOCAL_REGION, credentials, endpoint: local.endpoint });
  const resolve = createResolver(t, {
    queueUrl: (name) => `${local.endpoint}/${LOCAL_ACCOUNT_ID}/${name}`,
  });
  const urls = await provisionQueues(t, resolve, sqs);
  return {
    local,
    sqs,
    urls,
    stop: async () => {
      sqs.destroy();
      await local.stop();
    },
  };
}

describe('the local SQS and S3 on a data dir', () => {
  let dataDir: string;
  const running: SqsLocal[] = [];
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-sqs-local-'));
  });
  afterAll(async () => {
    for (const local of running) await local.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps queues and their messages across a restart, and brings the queues to the template', async () => {
    const first = await run(dataDir, template(30));
    running.push(first.local);
    await first.sqs.send(
      new SendMessageCommand({ QueueUrl: first.urls.Work, MessageBody: 'queued at the stop' }),
    );
    await first.stop();

    // A new port, and the template's visibility timeout changed meanwhile.
    const second = await run(dataDir, template(45));
    running.push(second.local);
    expect(second.urls.Work).toBe(`${second.local.endpoint}/${LOCAL_ACCOUNT_ID}/${localQueueName('Work')}`);
    expect(second.urls.Work).not.toBe(first.urls.Work);
    const { Messages = [] } = await second.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: second.urls.Work, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((m) => m.Body)).toEqual(['queued at the stop']);
    const { Attributes } = await second.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: second.urls.Work, AttributeNames: ['All'] }),
    );
    expect(Attributes).toMatchObject({
      VisibilityTimeout: '45',
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${localQueueName('Dlq')}`,
        maxReceiveCount: 3,
      }),
    });
    await second.stop();
  });

  it('keeps S3 objects as files under the data dir across a restart', async () => {
    const first = await startSqsLocal({ dataDir });
    running.push(first);
    expect((await fetch(`${first.ipEndpoint}/claims`, { method: 'PUT' })).status).toBe(200);
    const put = await fetch(`${first.ipEndpoint}/claims/job-1/result.json`, {
      method: 'PUT',
      body: '{"a":1}',
    });
    expect(put.status).toBe(200);
    await first.stop();
    expect(existsSync(join(dataDir, 's3', 'buckets', 'claims', 'objects', 'job-1', 'result.json.data'))).toBe(
      true,
    );

    const second = await startSqsLocal({ dataDir });
    running.push(second);
    const got = await fetch(`${second.ipEndpoint}/claims/job-1/result.json`);
    expect(await got.text()).toBe('{"a":1}');
  });
});
