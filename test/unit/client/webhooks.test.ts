import { describe, expect, it } from 'vitest';
import { verifyWebhook, Webhook, WebhookVerificationError } from '../../../client/src/index.js';
import { job } from './fake-api.js';

const SECRET = `whsec_${Buffer.from('a secret of thirty-two bytes!!!!').toString('base64')}`;

function delivery() {
  const body = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: job() });
  const id = 'msg_job_1_6';
  const timestamp = new Date();
  const signature = new Webhook(SECRET).sign(id, timestamp, body);
  const headers = {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signature,
  };
  return { body, headers };
}

describe('verifyWebhook', () => {
  it("returns the event for a delivery signed with the tenant's secret, from Node or fetch headers", () => {
    const { body, headers } = delivery();
    const nodeHeaders = { ...headers, 'Content-Type': 'application/json', 'x-forwarded-for': ['a', 'b'] };
    expect(verifyWebhook(body, nodeHeaders, SECRET)).toEqual(JSON.parse(body));
    expect(verifyWebhook(body, new Headers(headers), SECRET).type).toBe('job.succeeded');
  });

  it('throws WebhookVerificationError for a changed body or another secret', () => {
    const { body, headers } = delivery();
    expect(() => verifyWebhook(body.replace('succeeded', 'failed'), headers, SECRET)).toThrow(
      WebhookVerificationError,
    );
    const other = `whsec_${Buffer.from('another secret of 32 bytes!!!!!!').toString('base64')}`;
    expect(() => verifyWebhook(body, headers, other)).toThrow(WebhookVerificationError);
  });
});
