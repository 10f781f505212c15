import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { apiFor } from '../integration/client.js';

const api = apiFor('poison');
const dlqUrl = inject('jobDlqUrl');
// Queue URLs name a *.localhost host only the stack's process resolves: send every call to the endpoint.
const sqs = new SQSClient({
  endpoint: inject('sqsEndpoint').replace(/\/\/[^:/]+/, '//127.0.0.1'),
  useQueueUrlAsEndpoint: false,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
afterAll(() => sqs.destroy());

/**
 * What the DLQ alarm watches: CloudWatch's ApproximateNumberOfMessagesVisible is the queue's
 * ApproximateNumberOfMessages attribute, sampled.
 */
async function visibleInDlq(): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
}

async function drainDlq(): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!Messages?.length) return messages;
    messages.push(...Messages);
  }
}

const CASES = [
  { agent: 'poison-throws', code: 'agent_error' },
  { agent: 'poison-hangs', code: 'step_timeout' },
  { agent: 'poison-invalid-outcome', code: 'agent_error' },
  { agent: 'poison-unserializable-result', code: 'agent_error' },
] as const;

describe('poison agents', () => {
  it('fail with the right code, land in the job DLQ, and move the DLQ alarm metric', async () => {
    const before = await visibleInDlq();
    const jobs = await Promise.all(
      CASES.map(async (c) => {
        const created = await api.create({ agent: c.agent, input: {} });
        expect(created.status).toBe(202);
        return { ...c, id: created.body.id as string };
      }),
    );
    for (const job of jobs) {
      const done = await api.waitForTerminal(job.id);
      expect(done.body, job.agent).toMatchObject({ status: 'failed', result: null });
      expect(done.body.error, job.agent).toMatchObject({ code: job.code, retryable: false });
    }

    await expect.poll(visibleInDlq, { timeout: 10_000 }).toBeGreaterThanOrEqual(before + jobs.length);
    const bodies = (await drainDlq()).map((m) => m.Body ?? '');
    for (const job of jobs) {
      expect(
        bodies.filter((b) => b.includes(job.id)),
        job.agent,
      ).toHaveLength(1);
    }
  });
});
