import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryMessage } from '../domain/delivery.js';

const defaultClient = new SQSClient({});

/**
 * SQS holds a message invisible for at most 12 hours from the receive that set it; a longer wait is
 * taken in several steps (the deliverer extends it again each time the message comes back early).
 */
export const MAX_VISIBILITY_SECONDS = 43_000;

/** The webhook delivery queue: one message per delivery round, retried by hiding it until it is due. */
export class WebhookQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = defaultClient,
  ) {}

  /** Sends a message for the delivery; its id is what claims the delivery. */
  async send(message: DeliveryMessage): Promise<string> {
    const out = await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }),
    );
    return out.MessageId ?? '';
  }

  /** Hides a received message for `seconds` (capped at what SQS allows), after which it is received again. */
  async hide(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(Math.ceil(seconds), MAX_VISIBILITY_SECONDS)),
      }),
    );
  }
}
