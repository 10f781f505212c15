import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A function's AWS::Lambda::EventInvokeConfig, as far as the local stack acts on it. */
export interface AsyncInvokeConfig {
  /** Lambda's MaximumRetryAttempts; Lambda retries twice when it is not set. */
  maximumRetryAttempts?: number;
  /** The queue URL of the OnFailure destination, when it is one of the template's queues. */
  onFailureQueueUrl?: string;
}

const LAMBDA_DEFAULT_RETRY_ATTEMPTS = 2;

/** Lambda waits a minute, then two, between attempts; locally a second keeps runs short. */
const LOCAL_RETRY_DELAY_MS = 1_000;

/**
 * What Lambda sends to an on-failure destination: the event, and why its invocation gave up.
 * (MaximumEventAge has no local counterpart: a local event never waits in a queue.)
 */
export function onFailureRecord(functionArn: string, event: unknown, error: unknown, attempts: number) {
  const e = error instanceof Error ? error : new Error(String(error));
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: randomUUID(),
      functionArn: `${functionArn}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: attempts,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: e.name, errorMessage: e.message, trace: e.stack?.split('\n') ?? [] },
  };
}

/**
 * Lambda's side of an asynchronous (`Event`) invocation: the caller has its 202 already; the
 * invocation is retried as configured, then recorded at the on-failure destination. Never rejects.
 */
export async function invokeAsynchronously(
  invoke: () => Promise<unknown>,
  target: { functionArn: string; event: unknown; config?: AsyncInvokeConfig },
  sqs: SQSClient,
): Promise<void> {
  const attempts = 1 + (target.config?.maximumRetryAttempts ?? LAMBDA_DEFAULT_RETRY_ATTEMPTS);
  let error: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await invoke();
      return;
    } catch (e) {
      error = e;
    }
    if (attempt < attempts) await sleep(LOCAL_RETRY_DELAY_MS);
  }
  const queueUrl = target.config?.onFailureQueueUrl;
  if (!queueUrl) {
    console.error(`local stack: asynchronous invocation of ${target.functionArn} failed`, error);
    return;
  }
  const record = onFailureRecord(target.functionArn, target.event, error, attempts);
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(record) }));
  } catch (e) {
    console.error(`local stack: the failed invocation of ${target.functionArn} could not be recorded`, e);
  }
}
