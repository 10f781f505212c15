import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { JobDlqMessage } from '../config/workflow.js';

const defaultClient = new SQSClient({});

/** A dead-letter queue the code writes to itself: one JSON message of type `M` per item given up on. */
export class DeadLetterQueue<M> {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = defaultClient,
  ) {}

  async send(body: M): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body) }),
    );
  }
}

/** The job DLQ as the reconciler and the sweep write to it: one message per failed job, like the workflow's. */
export class JobDlq extends DeadLetterQueue<JobDlqMessage> {}
