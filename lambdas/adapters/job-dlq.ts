import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

const defaultClient = new SQSClient({});

/** The job DLQ as the reconciler writes to it: one JSON message per failed job, like the workflow's. */
export class JobDlq {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = defaultClient,
  ) {}

  async send(body: unknown): Promise<void> {
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body) }),
    );
  }
}
