import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { interceptLocalhostDns } from 'fauxqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { FileWebhookSecrets, LOCAL_WEBHOOK_SECRETS_FILE } from '../../lambdas/local/file-webhook-secrets.js';
import { webhookSecretMain } from '../../bin/webhook-secrets-cli.js';
import { apiFor, expectProblem } from './client.js';
import { lambdaContext } from '../../lambdas/local/lambda-context.js';

const TENANT = 'webhooks';
const api = apiFor(TENANT);

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that answers with the statuses it is given, then 200. */
class Receiver {
  readonly received: Received[] = [];
  private server?: Server;
  constructor(private readonly answers: number[] = []) {}

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // Only webhooks count: other suites running alongside probe ports they picked as free,
        // and one of those may be this receiver's.
        if (req.headers['webhook-id'] === undefined) return res.writeHead(404).end();
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(this.answers.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const receivers: Receiver[] = [];
async function receiver(answers: number[] = []) {
  const r = new Receiver(answers);
  receivers.push(r);
  return { r, url: await r.listen() };
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

let secret: string;
beforeAll(async () => {
  // The local stack wrote every tenant's secret at start, as an operator would hand it out.
  secret = await new FileWebhookSecrets(join(inject('dataDir'), LOCAL_WEBHOOK_SECRETS_FILE)).current(TENANT);
});

/** What a receiver does: verify the signature over the exact bytes, then parse. */
function verified(r: Received) {
  return new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const deliveries = async (jobId: string) => {
  const res = await api.call('GET', `/v1/jobs/${jobId}/deliveries`);
  expect(res.status).toBe(200);
  return res.body.items as Array<{
    id: string;
    webhookId: string;
    type: string;
    url: string;
    status: string;
    attempts: Array<{ at: string; httpStatus?: number; error?: string; durationMs: number }>;
    nextAttemptAt: string | null;
  }>;
};

/** Waits until the job's only delivery is settled (delivered or failed), and returns it. */
const settledDelivery = (jobId: string) =>
  until(`the delivery of ${jobId} to settle`, async () => {
    const items = await deliveries(jobId);
    return items.length === 1 && items[0]!.status !== 'pending' ? items[0] : undefined;
  });

const quickJob = (url: string, input: Record<string, unknown> = {}) =>
  api.create({ agent: 'echo', input: { message: 'hook', steps: 1, stepMs: 0, ...input }, webhook: { url } });

describe('webhooks', () => {
  it('signs the terminal event so a receiver verifies it, and logs the attempt', async () => {
    const { r, url } = await receiver();
    const created = await quickJob(url);
    expect(created.status).toBe(202);
    const delivery = await settledDelivery(created.body.id);

    expect(delivery).toMatchObject({ type: 'job.succeeded', url, status: 'delivered', nextAttemptAt: null });
    expect(delivery.attempts).toEqual([
      { at: expect.any(String), httpStatus: 200, durationMs: expect.any(Number) },
    ]);
    expect(r.received).toHaveLength(1);
    const [request] = r.received;
    expect(request!.headers['webhook-id']).toBe(delivery.webhookId);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['user-agent']).toMatch(/agent-jobs/);
    const event = verified(request!);
    expect(event.type).toBe('job.succeeded');
    expect(event.data).toMatchObject({
      id: created.body.id,
      status: 'succeeded',
      result: { message: 'hook' },
    });
    // Signed with this tenant's secret only: another secret does not verify it.
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(
        request!.body,
        request!.headers as Record<string, string>,
      ),
    ).toThrow();
  });

  it('retries a receiver that fails twice, then records the success, with one webhook-id throughout', async () => {
    const { r, url } = await receiver([500, 503]);
    const created = await quickJob(url);
    const delivery = await settledDelivery(created.body.id);

    expect(delivery.status).toBe('delivered');
    expect(delivery.attempts.map((a) => a.httpStatus)).toEqual([500, 503, 200]);
    expect(new Set(r.received.map((q) => q.headers['webhook-id']))).toEqual(new Set([delivery.webhookId]));
    for (const q of r.received) expect(verified(q).type).toBe('job.succeeded');
  });

  it('stops at 410 Gone and marks the delivery failed, while the job stays available by polling', async () => {
    const { r, url } = await receiver([410]);
    const created = await quickJob(url);
    const delivery = await settledDelivery(created.body.id);

    expect(delivery.status).toBe('failed');
    expect(delivery.attempts.map((a) => a.httpStatus)).toEqual([410]);
    // Longer than the whole test schedule's next steps: nothing more arrives.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(r.received).toHaveLength(1);
    expect((await deliveries(created.body.id))[0]!.attempts).toHaveLength(1);
    expect((await api.get(created.body.id)).body.status).toBe('succeeded');
  });

  it('after the whole schedule fails, marks the delivery failed and dead-letters it; the job stays pollable', async () => {
    // Always 500: the test schedule's eight attempts span about twelve seconds.
    const { r, url } = await receiver(Array.from({ length: 20 }, () => 500));
    const created = await quickJob(url);
    const delivery = await until(
      'the schedule to run out',
      async () => {
        const [d] = await deliveries(created.body.id);
        return d?.status === 'failed' ? d : undefined;
      },
      45_000,
    );
    expect(delivery.attempts.map((a) => a.httpStatus)).toEqual(Array.from({ length: 8 }, () => 500));
    expect(delivery.nextAttemptAt).toBeNull();
    expect(r.received).toHaveLength(8);
    expect((await api.get(created.body.id)).body.status).toBe('succeeded');

    const restoreDns = interceptLocalhostDns();
    try {
      const sqs = new SQSClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        endpoint: inject('handlerEnv').AWS_ENDPOINT_URL_SQS,
      });
      const dead = await until('the webhook DLQ message', async () => {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: inject('handlerEnv').WEBHOOK_DLQ_URL,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
        );
        return (Messages ?? [])
          .map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>)
          .find((m) => m.jobId === created.body.id);
      });
      expect(dead).toMatchObject({ tenant: TENANT, deliveryId: delivery.id, webhookId: delivery.webhookId });
      expect(JSON.stringify(dead)).not.toContain('whsec_');
    } finally {
      restoreDns();
    }
  });

  it('keeps trying a receiver that is down, and delivers once it is up', async () => {
    // A port that was free a moment ago: nothing listens on it until the receiver starts.
    const probe = new Receiver();
    const port = Number(new URL(await probe.listen()).port);
    await probe.close();
    const url = `http://127.0.0.1:${port}/hook`;
    const created = await quickJob(url);

    const failed = await until('two refused attempts', async () => {
      const [d] = await deliveries(created.body.id);
      return d && d.attempts.length >= 2 ? d : undefined;
    });
    expect(failed.status).toBe('pending');
    expect(failed.nextAttemptAt).toEqual(expect.any(String));
    for (const a of failed.attempts) {
      expect(a.httpStatus).toBeUndefined();
      expect(a.error).toMatch(/refused|ECONNREFUSED/i);
    }

    const up = new Receiver();
    receivers.push(up);
    await up.listen(port);
    const delivered = await settledDelivery(created.body.id);
    expect(delivered.status).toBe('delivered');
    expect(delivered.attempts.at(-1)!.httpStatus).toBe(200);
    expect(up.received).toHaveLength(1);
    expect(verified(up.received[0]!).data).toMatchObject({ id: created.body.id });
  });

  it('replays a delivery with the same webhook-id and a fresh signature, and answers 202', async () => {
    const { r, url } = await receiver();
    const created = await quickJob(url);
    const first = await settledDelivery(created.body.id);
    expect(first.status).toBe('delivered');

    const replay = await api.call('POST', `/v1/jobs/${created.body.id}/deliveries/${first.id}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ id: first.id, webhookId: first.webhookId, status: 'pending' });

    const again = await until('the replayed delivery', async () => {
      const [d] = await deliveries(created.body.id);
      return d && d.status === 'delivered' && d.attempts.length === 2 ? d : undefined;
    });
    expect(again.attempts.map((a) => a.httpStatus)).toEqual([200, 200]);
    expect(r.received).toHaveLength(2);
    const [one, two] = r.received;
    expect(two!.headers['webhook-id']).toBe(one!.headers['webhook-id']);
    expect(two!.body).toBe(one!.body);
    expect(Number(two!.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(
      Number(one!.headers['webhook-timestamp']),
    );
    expect(verified(two!).type).toBe('job.succeeded');
  });

  it('answers 404 for a delivery the job does not have, and 400 for a malformed delivery id', async () => {
    const { url } = await receiver();
    const created = await quickJob(url);
    await settledDelivery(created.body.id);
    expectProblem(
      await api.call('POST', `/v1/jobs/${created.body.id}/deliveries/dlv_999/replay`),
      404,
      'not_found',
    );
    expectProblem(
      await api.call('POST', `/v1/jobs/${created.body.id}/deliveries/nope/replay`),
      400,
      'validation_failed',
    );
  });

  it('sends input_required, then the terminal event, as two deliveries', async () => {
    const { r, url } = await receiver();
    const created = await quickJob(url, { steps: 2, askInput: 'Proceed?' });
    await api.waitForStatus(created.body.id, 'input_required');
    await until('the input_required delivery', async () => (r.received.length >= 1 ? true : undefined));
    expect(verified(r.received[0]!)).toMatchObject({
      type: 'job.input_required',
      data: { status: 'input_required', inputRequest: { prompt: 'Proceed?' } },
    });
    expect(
      (await api.call('POST', `/v1/jobs/${created.body.id}/input`, { body: { input: 'yes' } })).status,
    ).toBe(200);
    const both = await until('both deliveries', async () => {
      const items = await deliveries(created.body.id);
      return items.length === 2 && items.every((d) => d.status === 'delivered') ? items : undefined;
    });
    expect(both.map((d) => d.type)).toEqual(['job.input_required', 'job.succeeded']);
    expect(new Set(both.map((d) => d.webhookId)).size).toBe(2);
  });

  it('sends a thin event with the job link when the full one would exceed 20 KB (input and result together)', async () => {
    const { r, url } = await receiver();
    const created = await quickJob(url, { message: 'x'.repeat(10_000) });
    await settledDelivery(created.body.id);
    const [request] = r.received;
    expect(Buffer.byteLength(request!.body)).toBeLessThan(20_000);
    const event = verified(request!);
    expect(event.type).toBe('job.succeeded');
    expect(event.data).toMatchObject({ id: created.body.id, status: 'succeeded', truncated: true });
    expect(event.data.result).toBeUndefined();
    expect(event.data.links).toMatchObject({ self: `/v1/jobs/${created.body.id}` });
  });

  it('signs with both secrets while a rotation overlaps, so receivers on either verify', async () => {
    const tenant = 'webhooks-rotation';
    const rotating = apiFor(tenant);
    const file = new FileWebhookSecrets(join(inject('dataDir'), LOCAL_WEBHOOK_SECRETS_FILE));
    const old = await file.current(tenant);
    // As an operator would: the CLI against the local stack's data dir.
    const printed: string[] = [];
    const code = await webhookSecretMain(
      ['rotate', '--tenant', tenant, '--overlap-hours', '1', '--local', inject('dataDir')],
      {},
      (line) => printed.push(line),
    );
    expect(code).toBe(0);
    const fresh = await file.current(tenant);
    expect(fresh).not.toBe(old);
    expect(printed.join('\n')).toContain(fresh);

    const { r, url } = await receiver();
    const created = await rotating.create({
      agent: 'echo',
      input: { message: 'rotated', steps: 1, stepMs: 0 },
      webhook: { url },
    });
    expect(created.status).toBe(202);
    await until('the delivery', async () => (r.received.length > 0 ? true : undefined));
    const [request] = r.received;
    expect(String(request!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [old, fresh]) {
      expect(
        new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>),
      ).toMatchObject({ type: 'job.succeeded', data: { id: created.body.id } });
    }
  });

  describe('a redelivered stream record', () => {
    let eventsHandler: (event: DynamoDBStreamEvent, context: unknown) => Promise<unknown>;
    let client: typeof import('../../lambdas/adapters/dynamo-job-store.js').documentClient;

    beforeAll(async () => {
      Object.assign(process.env, inject('handlerEnv'), { POWERTOOLS_LOG_LEVEL: 'SILENT' });
      eventsHandler = (await import('../../lambdas/handlers/append-events.js')).handler as never;
      client = (await import('../../lambdas/adapters/dynamo-job-store.js')).documentClient;
    });
    afterAll(() => {
      for (const name of Object.keys(inject('handlerEnv'))) delete process.env[name];
    });

    it('produces no second delivery', async () => {
      const { r, url } = await receiver();
      const created = await quickJob(url);
      const delivery = await settledDelivery(created.body.id);
      const { jobPk } = await import('../../lambdas/adapters/dynamo-job-store.js');
      const { Item: item } = await client.send(
        new GetCommand({
          TableName: inject('handlerEnv').JOBS_TABLE_NAME,
          Key: { PK: jobPk(TENANT, created.body.id), SK: 'JOB' },
          ConsistentRead: true,
        }),
      );
      // The terminal write as the stream reported it, handed over again (twice) as a retry would.
      const types = item!.lastEventTypes as string[];
      const before = { ...item!, status: 'running', eventSeq: (item!.eventSeq as number) - types.length };
      const record: DynamoDBRecord = {
        eventID: 'redelivered',
        eventName: 'MODIFY',
        dynamodb: {
          Keys: marshall({ PK: item!.PK, SK: item!.SK }) as never,
          NewImage: marshall(item!, { removeUndefinedValues: true }) as never,
          OldImage: marshall(before, { removeUndefinedValues: true }) as never,
          SequenceNumber: '1',
        },
      };
      for (let i = 0; i < 2; i++) {
        expect(await eventsHandler({ Records: [record] }, lambdaContext('append-events', 10_000))).toEqual({
          batchItemFailures: [],
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await deliveries(created.body.id)).toEqual([delivery]);
      expect(r.received).toHaveLength(1);
    });
  });
});
