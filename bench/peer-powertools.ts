import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { findAgentDescriptor } from '../lambdas/agents/catalog.js';
import { API_ROUTES } from '../lambdas/config/routes.js';
import { JOB_SK } from '../lambdas/config/table.js';
import { newJobId } from '../lambdas/domain/idempotency.js';
import { newJob } from '../lambdas/domain/job.js';
import type { JsonValue } from '../lambdas/domain/job.js';
import { liveExpiry } from '../lambdas/domain/retention.js';
import { jsonBody, parseWith, tenantOf } from '../lambdas/handlers/http/request.js';
import { jobResponse } from '../lambdas/handlers/http/response.js';
import { createJobRequestSchema } from '../lambdas/handlers/http/schemas.js';
import * as z from '../lambdas/domain/zod-mini.js';
import { buildProxyEvent, matchRoute, type RouteMatch } from '../lambdas/local/http-adapter.js';
import { lambdaContext } from '../lambdas/local/lambda-context.js';
import { LOCAL_REGION } from '../lambdas/local/template.js';
import { echoJob } from './api.js';
import type { BenchContext, Figures } from './context.js';
import { countDynamoRequests, requestsDuring } from './ddb-counter.js';
import { percentile, round, timed } from './stats.js';

type SubmitHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * The same submit as the usual design builds it: a handler that writes the job with a plain
 * PutItem (fresh id), made idempotent by Powertools with its DynamoDB persistence layer on its own
 * table, keyed by tenant and Idempotency-Key, with the body as the payload to validate.
 */
export function powertoolsSubmitHandler(opts: {
  jobsTable: string;
  idempotencyTable: string;
  client: DynamoDBClient;
  /** The jobs table's partition key of a job, so both designs write the same item. */
  jobPk: (tenant: string, id: string) => string;
}): SubmitHandler {
  const documents = DynamoDBDocumentClient.from(opts.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const submit: SubmitHandler = async (event) => {
    const tenant = tenantOf(event);
    const req = parseWith(createJobRequestSchema, jsonBody(event), 'body', 'request body');
    // The same checks ours makes, so both do the same work besides idempotency; inputs here are valid.
    const agent = findAgentDescriptor(req.agent)!;
    z.parse(agent.inputSchema, req.input);
    const now = new Date();
    const timeoutSeconds = req.timeoutSeconds ?? agent.defaultTimeoutSeconds;
    const job = newJob(
      newJobId(),
      tenant,
      { ...req, input: req.input as JsonValue, metadata: undefined, timeoutSeconds },
      now,
      liveExpiry(now, timeoutSeconds),
    );
    await documents.send(
      new PutCommand({
        TableName: opts.jobsTable,
        Item: { ...job, PK: opts.jobPk(tenant, job.id), SK: JOB_SK },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    return jobResponse(202, job, now, { Location: `/v1/jobs/${job.id}` });
  };
  return makeIdempotent(submit, {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: opts.idempotencyTable,
      awsSdkV3Client: opts.client,
    }),
    config: new IdempotencyConfig({
      eventKeyJmesPath: '[requestContext.authorizer.tenant, headers."idempotency-key"]',
      payloadValidationJmesPath: 'body',
      expiresAfterSeconds: 24 * 3600,
    }),
  });
}

/** Powertools' documented table shape: partition key `id`, TTL on `expiration`. */
async function createIdempotencyTable(client: DynamoDBClient): Promise<string> {
  const TableName = `bench-idempotency-${Date.now()}`;
  await client.send(
    new CreateTableCommand({
      TableName,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName,
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    }),
  );
  return TableName;
}

/**
 * The peer's jobs go to a table keyed like ours but without a stream, so they start no executions.
 * Ours do start executions, which load the machine during our timings: the comparison favours the peer.
 */
async function createPeerJobsTable(client: DynamoDBClient): Promise<string> {
  const TableName = `bench-peer-jobs-${Date.now()}`;
  await client.send(
    new CreateTableCommand({
      TableName,
      AttributeDefinitions: [
        { AttributeName: 'PK', AttributeType: 'S' },
        { AttributeName: 'SK', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'PK', KeyType: 'HASH' },
        { AttributeName: 'SK', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return TableName;
}

/**
 * Ours against the Powertools design, both invoked in-process with the same API Gateway event
 * (so HTTP and the authorizer, identical for both, are left out) on the same DynamoDB Local.
 */
export async function benchPeerPowertools(ctx: BenchContext): Promise<Figures> {
  const samples = ctx.quick ? 30 : 300;
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: ctx.stack.endpoints.dynamodb,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const peerCounter = countDynamoRequests(client);
  // Loaded after the stack set the handlers' environment, as the stack loads them.
  const { jobPk } = await import('../lambdas/adapters/dynamo-job-store.js');
  const { handler: createJob } = await import('../lambdas/handlers/create-job.js');
  const peer = powertoolsSubmitHandler({
    jobsTable: await createPeerJobsTable(client),
    idempotencyTable: await createIdempotencyTable(client),
    client,
    jobPk,
  });
  const tenant = ctx.stack.tenantKeys.find((t) => t.key === ctx.apiKey)!.tenant;
  const route = matchRoute(API_ROUTES, 'POST', '/v1/jobs') as RouteMatch;
  const event = (key: string, message: string) =>
    buildProxyEvent(
      {
        method: 'POST',
        url: '/v1/jobs',
        rawHeaders: ['content-type', 'application/json', 'idempotency-key', key],
        sourceIp: '127.0.0.1',
        body: JSON.stringify(echoJob(message)),
        requestId: randomUUID(),
        receivedAt: new Date(),
      },
      route,
      { tenant },
    );
  const invoke = async (fn: SubmitHandler, key: string, message = 'peer') => {
    const res = await fn(event(key, message), lambdaContext('bench-submit', 10_000));
    if (res.statusCode !== 202) throw new Error(`submit answered ${res.statusCode}: ${res.body}`);
  };
  for (let i = 0; i < 20; i++)
    await Promise.all([invoke(createJob, randomUUID()), invoke(peer, randomUUID())]);

  ctx.log('counting the Powertools design per submit and per replay...');
  const key = randomUUID();
  const peerSubmit = await requestsDuring(peerCounter, () => invoke(peer, key));
  const peerReplay = await requestsDuring(peerCounter, () => invoke(peer, key));

  ctx.log(`timing ${samples} idempotent submits of ours next to ${samples} of the Powertools design...`);
  const oursMs: number[] = [];
  const peerMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    oursMs.push((await timed(() => invoke(createJob, randomUUID()))).ms);
    peerMs.push((await timed(() => invoke(peer, randomUUID()))).ms);
  }
  client.destroy();
  return {
    'submit.handler.p50Ms': round(percentile(oursMs, 50)),
    'submit.handler.p99Ms': round(percentile(oursMs, 99)),
    'peer.powertools.ddbWrites': peerSubmit.writes,
    'peer.powertools.ddbReads': peerSubmit.reads,
    'peer.powertools.replay.ddbWrites': peerReplay.writes,
    'peer.powertools.replay.ddbReads': peerReplay.reads,
    'peer.powertools.p50Ms': round(percentile(peerMs, 50)),
    'peer.powertools.p99Ms': round(percentile(peerMs, 99)),
    'peer.ratio': round(percentile(peerMs, 50) / percentile(oursMs, 50)),
  };
}
