import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
// Built exactly as the handlers build theirs: same module, same environment (the stack's).
import {
  dynamoClient,
  JOB_SK,
  jobPk,
  MARSHALL_OPTIONS,
  jobStoreFromEnv,
  newJobItem,
} from '../lambdas/adapters/dynamo-job-store.js';
import { findAgentDescriptor } from '../lambdas/agents/catalog.js';
import { newJobId, requestFingerprint } from '../lambdas/domain/idempotency.js';
import { newJob } from '../lambdas/domain/job.js';
import { liveExpiry } from '../lambdas/domain/retention.js';
import { echoJob } from './api.js';
import { countDynamoRequests } from './ddb-counter.js';
import {
  type ClientReply,
  type ClientRequest,
  emptySamples,
  type RoundResult,
  shuffled,
  SUBMIT_OPS,
  type SubmitClientConfig,
  type SubmitOp,
} from './submit-ops.js';

/**
 * The submit benchmark's client, forked into its own process so that neither its CPU nor its
 * garbage collection runs on the event loop of the stack it measures. Both paths leave from here
 * over keep-alive node:http connections: the API calls through an http.Agent, the DynamoDB calls
 * through the SDK's node:http handler.
 */

/** Entry point of the forked process: its config comes as argv[2], requests over IPC. */
async function main(config: SubmitClientConfig) {
  const ops = operations(config);
  process.on('message', (message: ClientRequest) => {
    const reply =
      message.kind === 'round' ? runRound(ops, message.order, message.tag) : runRounds(ops, message);
    const send = (r: ClientReply) => process.send!(r);
    reply.then(
      (result) => send({ ok: true, result }),
      (e: unknown) => send({ ok: false, error: (e as Error).stack ?? String(e) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ok: true, result: 'ready' } satisfies ClientReply);
}

const none = () => undefined;

/** The bare job items `put` and `getPut` wrote, deleted once their round is timed. */
const bare: Array<{ TableName: string; Key: Record<string, { S: string }> }> = [];

async function deleteBare() {
  for (const item of bare.splice(0)) await dynamoClient.send(new DeleteItemCommand(item));
}

/** Prepares one sample (untimed) and returns the call to time, which answers the job it created if any. */
type Operation = (tag: string) => () => Promise<string | undefined>;

function operations(config: SubmitClientConfig): Record<SubmitOp, Operation> {
  const api = keepAliveApi(config.url, config.apiKey);
  const store = jobStoreFromEnv();
  // The stack's handler client carries the request counter; this one carries the same middleware.
  countDynamoRequests(dynamoClient);
  const timeoutSeconds = findAgentDescriptor('echo')!.defaultTimeoutSeconds;
  /** A job exactly as the submit handler builds it for this request body, with its fingerprint. */
  const prepared = (tag: string) => {
    const now = new Date();
    const req = echoJob(tag);
    const job = newJob(
      newJobId(),
      config.tenant,
      { ...req, timeoutSeconds },
      now,
      liveExpiry(now, timeoutSeconds),
    );
    return { job, fingerprint: requestFingerprint(req), now };
  };
  /**
   * The submit's own write, bare: the same item, marshalled beforehand, in one conditional PutItem.
   * Nothing queues it, so the stack never runs it: the round deletes it once timed (deleteBare), or
   * the sweep would find a pending job that never joined its queue and run it minutes later.
   */
  const barePut = (tag: string) => {
    const { job, fingerprint } = prepared(tag);
    const key = { PK: { S: jobPk(job.tenant, job.id) }, SK: { S: JOB_SK } };
    const put = new PutItemCommand({
      TableName: config.tableName,
      Item: marshall(newJobItem(job, fingerprint), MARSHALL_OPTIONS),
      ConditionExpression: 'attribute_not_exists(PK)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    bare.push({ TableName: config.tableName, Key: key });
    return { key, send: () => dynamoClient.send(put).then(none) };
  };
  return {
    // The floor of a submit: its one conditional write, without HTTP, authorizer, handler or store.
    put: (tag) => barePut(tag).send,
    // The same floor for a write of the least an item can be: keys and the request body.
    putMinimal: (tag) => {
      const put = new PutItemCommand({
        TableName: config.tableName,
        Item: {
          PK: { S: `BENCH#${randomUUID()}` },
          SK: { S: 'JOB' },
          body: { S: JSON.stringify(echoJob(tag)) },
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      });
      return () => dynamoClient.send(put).then(none);
    },
    // The floor of a keyed submit: a consistent read of the key's item, then the conditional write.
    getPut: (tag) => {
      const { key, send } = barePut(tag);
      const get = new GetItemCommand({ TableName: config.tableName, Key: key, ConsistentRead: true });
      return async () => {
        await dynamoClient.send(get);
        return send();
      };
    },
    // The handler's own write, called directly: what a submit costs without HTTP, authorizer and handler.
    storeCreate: (tag) => {
      const { job, fingerprint, now } = prepared(tag);
      return () => store.create(job, fingerprint, now).then(() => job.id);
    },
    submit: (tag) => {
      const body = JSON.stringify(echoJob(tag));
      return () => api.submit(body);
    },
    keyed: (tag) => {
      const [body, key] = [JSON.stringify(echoJob(tag)), randomUUID()];
      return () => api.submit(body, key);
    },
    // Routing, the HTTP adapter and middy with no authorizer and no I/O: the HTTP path's own cost.
    live: () => () => api.call('GET', '/v1/health/live', 200).then(none),
  };
}

async function timedOp(op: Operation, tag: string): Promise<{ ms: number; jobId?: string }> {
  const call = op(tag);
  const start = process.hrtime.bigint();
  const jobId = await call();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, jobId };
}

async function runRound(ops: Record<SubmitOp, Operation>, order: SubmitOp[], tag: string) {
  const ms = {} as Record<SubmitOp, number>;
  const jobIds: string[] = [];
  for (const name of order) {
    const sample = await timedOp(ops[name], `${tag} ${name}`);
    ms[name] = sample.ms;
    if (sample.jobId) jobIds.push(sample.jobId);
  }
  await deleteBare();
  return { ms, jobIds } satisfies RoundResult;
}

async function runRounds(
  ops: Record<SubmitOp, Operation>,
  req: { count: number; tag: string; seed: number },
) {
  const samples = emptySamples();
  for (let i = 0; i < req.count; i++) {
    const { ms } = await runRound(ops, shuffled(SUBMIT_OPS, req.seed + i), `${req.tag} ${i}`);
    for (const op of SUBMIT_OPS) samples[op].push(ms[op]);
  }
  return samples;
}

/** The API as an outside client calls it, over one keep-alive connection pool. */
function keepAliveApi(url: string, apiKey: string) {
  const { hostname, port } = new URL(url);
  const agent = new Agent({ keepAlive: true });
  const call = (method: string, path: string, expected: number, body?: string, key?: string) =>
    new Promise<string>((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      if (key !== undefined) headers['idempotency-key'] = key;
      const req = request({ hostname, port, method, path, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === expected) resolve(text);
          else reject(new Error(`${method} ${path} answered ${res.statusCode}: ${text}`));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    call,
    submit: async (body: string, key?: string) =>
      (JSON.parse(await call('POST', '/v1/jobs', 202, body, key)) as { id: string }).id,
  };
}

if (process.send && process.argv[2]) await main(JSON.parse(process.argv[2]) as SubmitClientConfig);
