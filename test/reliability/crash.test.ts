import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { runConcurrently } from '../../bench/pool.js';
import { generateWebhookSecret } from '../../lambdas/adapters/webhook-secrets.js';
import { TERMINAL_STATUSES } from '../../lambdas/domain/job.js';
import {
  removeLocalStackData,
  startLocalStackProcess,
  stopLocalStackProcess as kill,
} from '../fixtures/local-stack-process.js';
import { ENGINE_TEST_LIMITS } from './engine-limits.js';

const JOBS = 100;
const API_KEY = `ak_crash_${Date.now().toString(36)}`;
/** The dev tenant's signing secret, handed to the stack as an operator would, and to the receiver. */
const WEBHOOK_SECRET = generateWebhookSecret();
/** Seconds before each attempt: five attempts within about 11 s instead of days. */
const RETRY_SCHEDULE = '0,1,2,3,5';

interface Job {
  id: string;
  status: string;
  result: { steps: number } | null;
  error: { code: string } | null;
  completedAt: string | null;
}

interface Delivery {
  webhookId: string;
  type: string;
  url: string;
  status: string;
  attempts: { httpStatus?: number; error?: string }[];
}

/**
 * Mixed lengths: 1-6 steps of 0-2000 ms (the longest run about 12 s, so some are still running when
 * the stack is killed on a slow machine), and every seventh job fails at its second step. Every other
 * job has a webhook, and the receiver refuses (503) the first attempt of every other one of those,
 * so deliveries also go through retries.
 */
function spec(i: number) {
  const steps = 1 + (i % 6);
  const key = `crash-${i}`;
  const input: Record<string, unknown> = { message: `crash ${i}`, steps, stepMs: [0, 50, 200, 2000][i % 4] };
  if (i % 7 === 3 && steps >= 2) input.failAtStep = 2;
  return {
    key,
    input,
    steps,
    fails: input.failAtStep !== undefined,
    hookPath: i % 2 === 0 ? `/hooks/${key}` : undefined,
    refuseFirstAttempt: i % 4 === 0,
  };
}
const specs = Array.from({ length: JOBS }, (_, i) => spec(i));
type Spec = (typeof specs)[number];

/**
 * A job submitted first, whose webhook's first attempt is answered 503 with Retry-After: its
 * delivery then waits in the local queue through the kill, its message hidden until the retry is
 * due, and nothing else holds it: no lease, no unread stream record, not old enough for the sweep.
 */
const QUEUED: Spec = {
  key: 'crash-queued',
  input: { message: 'queued at the kill', steps: 1, stepMs: 0 },
  steps: 1,
  fails: false,
  hookPath: '/hooks/crash-queued',
  refuseFirstAttempt: true,
};
/** Long enough for the kill to come first, short enough for the restarted stack to deliver in time. */
const QUEUED_RETRY_AFTER_S = 60;

interface Received {
  path: string;
  webhookId: string | undefined;
  /** What the receiver answered. */
  status: number;
  /** Verified on arrival, as a receiver does (the signature's timestamp must be recent). */
  event?: { type: string; data: { id: string; status: string } };
  verifyError?: string;
}

/**
 * The webhook receiver runs in this process, outside the group the crash kills. It records every
 * request and answers 200, except 503 to the first request on a path of `refuseFirst`, and 503
 * with Retry-After to the first request on `retryLater`.
 */
async function startReceiver(refuseFirst: ReadonlySet<string>, retryLater: string) {
  const received: Received[] = [];
  const webhook = new Webhook(WEBHOOK_SECRET);
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const first = !received.some((r) => r.path === path);
      const later = first && path === retryLater;
      const got: Received = {
        path,
        webhookId: req.headers['webhook-id'] as string | undefined,
        status: later || (first && refuseFirst.has(path)) ? 503 : 200,
      };
      try {
        got.event = webhook.verify(
          Buffer.concat(chunks).toString('utf8'),
          req.headers as Record<string, string>,
        ) as Received['event'];
      } catch (e) {
        got.verifyError = String(e);
      }
      received.push(got);
      res.writeHead(got.status, later ? { 'retry-after': String(QUEUED_RETRY_AFTER_S) } : {}).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `npm start` on the given data directory, as the crash test configures it. */
const startLocal = (dataDir: string) =>
  startLocalStackProcess(dataDir, {
    AGENT_JOBS_API_KEY: API_KEY,
    AGENT_JOBS_WEBHOOK_SECRET: WEBHOOK_SECRET,
    AGENT_JOBS_WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE,
    AGENT_JOBS_DEFAULT_LIMITS: ENGINE_TEST_LIMITS,
  });

/** The API as the test uses it; webhooks point at the receiver at `hooks`. */
function client(url: string, hooks: string) {
  const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  return {
    submit: async (s: Spec) => {
      const res = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': s.key },
        body: JSON.stringify({
          agent: 'echo',
          input: s.input,
          ...(s.hookPath ? { webhook: { url: `${hooks}${s.hookPath}` } } : {}),
        }),
      });
      return {
        status: res.status,
        replayed: res.headers.has('idempotent-replayed'),
        job: (await res.json()) as Job,
      };
    },
    get: async (id: string) => (await (await fetch(`${url}/v1/jobs/${id}`, { headers })).json()) as Job,
    deliveries: async (id: string) => {
      const res = await fetch(`${url}/v1/jobs/${id}/deliveries`, { headers });
      if (res.status !== 200) throw new Error(`GET /v1/jobs/${id}/deliveries answered ${res.status}`);
      return ((await res.json()) as { items: Delivery[] }).items;
    },
    listIds: async () => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const page = (await (
          await fetch(`${url}/v1/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
            headers,
          })
        ).json()) as { items: Job[]; nextCursor: string | null };
        ids.push(...page.items.map((j) => j.id));
        cursor = page.nextCursor;
      } while (cursor);
      return ids;
    },
  };
}

const isTerminal = (job: Job) => (TERMINAL_STATUSES as readonly string[]).includes(job.status);

/** Did any execution run an agent step for this job (after the restart, when it had already succeeded)? */
async function agentStepsRun(sfn: SFNClient, stateMachineArn: string, jobId: string): Promise<number> {
  const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }));
  let steps = 0;
  for (const e of (executions ?? []).filter((x) => x.name === jobId)) {
    const { events } = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: e.executionArn, maxResults: 1000 }),
    );
    steps += (events ?? []).filter(
      (ev) => ev.type === 'TaskStateEntered' && ev.stateEnteredEventDetails?.name === 'AgentStep',
    ).length;
  }
  return steps;
}

describe('kill -9 of the whole local stack in the middle of a run', () => {
  let dataDir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  const running: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of running) await kill(child, 'SIGTERM');
    await receiver?.close();
    if (dataDir) await removeLocalStackData(dataDir);
  });

  it('loses no job or webhook, duplicates none, finishes every one, runs none again after it succeeded, and delivers what sat in a queue', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'agent-jobs-crash-'));
    receiver = await startReceiver(
      new Set(specs.filter((s) => s.hookPath && s.refuseFirstAttempt).map((s) => s.hookPath!)),
      QUEUED.hookPath!,
    );
    const first = await startLocal(dataDir);
    running.push(first.child);
    const api1 = client(first.url, receiver.origin);

    const queued = await api1.submit(QUEUED);
    expect(queued.status).toBe(202);
    const queuedId = queued.job.id;
    const submitted = await runConcurrently(JOBS, 16, (i) => api1.submit(specs[i]!));
    const ids = submitted.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      expect(r.value.status).toBe(202);
      return r.value.job.id;
    });

    // Crash once some jobs are done and others are still running.
    await expect
      .poll(async () => (await Promise.all(ids.map(api1.get))).filter(isTerminal).length, {
        timeout: 60_000,
        interval: 100,
      })
      .toBeGreaterThanOrEqual(JOBS / 4);

    // And a delivery that only its queue message can finish: its first attempt refused and
    // recorded, the message hidden until the retry is due.
    await expect
      .poll(() => api1.deliveries(queuedId), { timeout: 60_000, interval: 100 })
      .toEqual([
        expect.objectContaining({
          status: 'pending',
          attempts: [expect.objectContaining({ httpStatus: 503 })],
        }),
      ]);
    // The deliverer hides the message and records the attempt one right after the other.
    await sleep(1000);
    const beforeCrash = await Promise.all(ids.map(api1.get));
    await kill(first.child, 'SIGKILL');
    const receivedBeforeRestart = receiver.received.length;
    expect(beforeCrash.filter(isTerminal).length).toBeLessThan(JOBS);
    const succeededBefore = beforeCrash.filter((j) => j.status === 'succeeded');
    expect(succeededBefore.length).toBeGreaterThan(0);

    const second = await startLocal(dataDir);
    running.push(second.child);
    const api2 = client(second.url, receiver.origin);

    await expect
      .poll(async () => (await Promise.all(ids.map(api2.get))).filter(isTerminal).length, {
        timeout: 180_000,
        interval: 250,
      })
      .toBe(JOBS);

    // None lost, none duplicated: the listing holds exactly the submitted jobs, and a retry of each
    // submit after the restart hands back the same job.
    expect((await api2.listIds()).sort()).toEqual([...ids, queuedId].sort());
    const retried = await runConcurrently(JOBS, 16, (i) => api2.submit(specs[i]!));
    retried.forEach((r, i) => {
      if (r.status === 'rejected') throw r.reason;
      expect(r.value).toMatchObject({ status: 202, replayed: true, job: { id: ids[i] } });
    });

    // Every job ends as its input says, with each step run once (a resumed job does not restart).
    const after = await Promise.all(ids.map(api2.get));
    after.forEach((job, i) => {
      const s = specs[i]!;
      if (s.fails) expect(job, s.key).toMatchObject({ status: 'failed', error: { code: 'agent_error' } });
      else expect(job, s.key).toMatchObject({ status: 'succeeded', result: { steps: s.steps } });
    });

    // A job that had succeeded before the crash is untouched and runs no agent step again.
    const sfn = new SFNClient({
      endpoint: second.sfnEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    for (const job of succeededBefore) {
      expect(after.find((j) => j.id === job.id)).toMatchObject({
        status: 'succeeded',
        completedAt: job.completedAt,
        result: job.result,
      });
      expect(await agentStepsRun(sfn, second.stateMachineArn, job.id), job.id).toBe(0);
    }
    sfn.destroy();

    // Webhooks, at least once across the crash. Deliveries that were pending or not yet created
    // when the stack died are the restarted stack's to finish, on the compressed schedule: a minute
    // after every job ended is plenty. Then the log and the receiver must agree.
    const { received } = receiver;
    const hooked = [
      ...specs.flatMap((s, i) => (s.hookPath ? [{ s, job: after[i]! }] : [])),
      { s: QUEUED, job: await api2.get(queuedId) },
    ];
    const deliveredAndSeen = async ({ job }: (typeof hooked)[number]) => {
      const items = await api2.deliveries(job.id);
      return (
        items.length > 0 &&
        items.every(
          (d) =>
            d.status === 'delivered' && received.some((r) => r.webhookId === d.webhookId && r.status === 200),
        )
      );
    };
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(await Promise.all(hooked.map(deliveredAndSeen))).every(Boolean)) {
      await sleep(500);
    }
    for (const { s, job } of hooked) {
      // One delivery per job: its terminal event, delivered.
      const items = await api2.deliveries(job.id);
      expect(items, s.key).toEqual([
        expect.objectContaining({
          type: `job.${job.status}`,
          url: `${receiver.origin}${s.hookPath}`,
          status: 'delivered',
        }),
      ]);
      const [delivery] = items as [Delivery];
      // The receiver saw it, accepted it at least once, and saw no other webhook-id for the job:
      // duplicates are repeats of the same event. Each request carries the job as it ended.
      const requests = received.filter((r) => r.path === s.hookPath);
      expect(new Set(requests.map((r) => r.webhookId)), s.key).toEqual(new Set([delivery.webhookId]));
      expect(
        requests.some((r) => r.status === 200),
        s.key,
      ).toBe(true);
      for (const r of requests) {
        expect(r.event, s.key).toMatchObject({
          type: delivery.type,
          data: { id: job.id, status: job.status },
        });
      }
      // Every attempt the log shows an answer for reached the receiver (one cut off by the crash may
      // have reached it without being logged).
      expect(requests.length, s.key).toBeGreaterThanOrEqual(
        delivery.attempts.filter((a) => a.httpStatus !== undefined).length,
      );
    }
    // The queued delivery was made by the message that sat in the queue through the kill: two
    // attempts in all, the second after the restart.
    const queuedDeliveries = await api2.deliveries(queuedId);
    expect(queuedDeliveries[0]?.attempts.map((a) => a.httpStatus)).toEqual([503, 200]);
    const queuedRequests = received.flatMap((r, i) => (r.path === QUEUED.hookPath ? [{ ...r, i }] : []));
    expect(queuedRequests.map((r) => [r.status, r.i >= receivedBeforeRestart])).toEqual([
      [503, false],
      [200, true],
    ]);

    // Every request verified with the tenant's secret, and none went to a job without a webhook.
    expect(received.filter((r) => r.verifyError !== undefined)).toEqual([]);
    expect(new Set(received.map((r) => r.path))).toEqual(new Set(hooked.map(({ s }) => s.hookPath)));

    // A job without a webhook has no deliveries.
    for (const [i, s] of specs.entries()) {
      if (!s.hookPath) expect(await api2.deliveries(after[i]!.id), s.key).toEqual([]);
    }
  });
});
