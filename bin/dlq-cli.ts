import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoJobStore } from '../lambdas/adapters/dynamo-job-store.js';
import { type BatchJob, jobsInStreamBatch, type StreamBatchInfo } from '../lambdas/adapters/stream-batch.js';
import type { JobDlqMessage } from '../lambdas/config/workflow.js';
import {
  exitCode,
  LOCAL_CREDENTIALS,
  localDataDir,
  readLocalEndpoints,
  takeFlag,
  UsageError,
} from './cli-args.js';

/**
 * `agent-jobs dlq list | show <jobId> | redrive <jobId...>`: what operators do with the dead-letter
 * queues. Against a deployed stack it uses the usual AWS environment (AWS_REGION, AWS_PROFILE) and
 * the stack outputs given as flags or env; against the local stack, `--local [dataDir]` reads the
 * endpoints the local stack wrote at start.
 */
const USAGE = `usage: agent-jobs dlq list | show <jobId> | redrive <jobId...>
  [--table <name>] [--job-dlq <url>] [--start-dlq <url>]   (or AGENT_JOBS_TABLE_NAME, AGENT_JOBS_JOB_DLQ_URL, AGENT_JOBS_START_DLQ_URL:
                                                           the stack outputs TableName, JobDlqUrl, StartDlqUrl)
  [--local [dataDir]]                                      the local stack (default $AGENT_JOBS_DATA_DIR, else .data)`;

export interface CliConfig {
  tableName: string;
  jobDlqUrl: string;
  startDlqUrl: string;
  dynamodb: DynamoDBClient;
  /** Reads back the stream records a start DLQ message points at. */
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
}

async function configFrom(args: string[], env: NodeJS.ProcessEnv): Promise<CliConfig> {
  const local = takeFlag(args, '--local');
  if (local !== undefined) {
    const file = await readLocalEndpoints(localDataDir(local, env));
    const common = { region: file.region, credentials: LOCAL_CREDENTIALS };
    return {
      tableName: file.tableName,
      jobDlqUrl: file.jobDlqUrl,
      startDlqUrl: file.startDlqUrl,
      dynamodb: new DynamoDBClient({ ...common, endpoint: file.endpoints.dynamodb }),
      streams: new DynamoDBStreamsClient({ ...common, endpoint: file.endpoints.dynamodb }),
      sqs: new SQSClient({ ...common, endpoint: file.endpoints.sqs }),
    };
  }
  const required = (flagName: string, envName: string) => {
    const value = takeFlag(args, flagName) || env[envName];
    if (!value) throw new UsageError(`${flagName} or ${envName} is required`);
    return value;
  };
  return {
    tableName: required('--table', 'AGENT_JOBS_TABLE_NAME'),
    jobDlqUrl: required('--job-dlq', 'AGENT_JOBS_JOB_DLQ_URL'),
    startDlqUrl: required('--start-dlq', 'AGENT_JOBS_START_DLQ_URL'),
    dynamodb: new DynamoDBClient({}),
    streams: new DynamoDBStreamsClient({}),
    sqs: new SQSClient({}),
  };
}

/** A job DLQ message as read back: anything may be missing from a message the code did not write. */
type JobDlqBody = Partial<JobDlqMessage>;

const parse = (m: Message) => {
  try {
    return JSON.parse(m.Body ?? '') as Record<string, unknown>;
  } catch {
    return { unparsed: m.Body };
  }
};

/**
 * Every message currently in the queue, held invisible for `holdSeconds` so repeated receives move
 * on to the rest; callers delete what they handled and release the others.
 */
async function receiveAll(sqs: SQSClient, queueUrl: string, holdSeconds: number): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: holdSeconds,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
    );
    const fresh = Messages.filter((m) => !all.some((seen) => seen.MessageId === m.MessageId));
    if (fresh.length === 0) return all;
    all.push(...fresh);
  }
}

/** Best effort: a message not released becomes visible again when its hold ends anyway. */
async function release(sqs: SQSClient, queueUrl: string, messages: Message[]) {
  await Promise.allSettled(
    messages.map((m) =>
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      ),
    ),
  );
}

/** Why the job failed, in one line. */
function reason(body: JobDlqBody): string {
  const error = body.markFailed?.error;
  const by = body.reconciled ? `reconciler (${body.reconciled.status})` : body.swept ? 'sweep' : 'workflow';
  return `${error?.code ?? '?'}: ${error?.message ?? ''} [by ${by}${body.failure?.Error ? `, ${body.failure.Error}` : ''}]`;
}

/** The jobs behind a start DLQ message, each with its status now: what an operator checks next. */
async function batchJobLines(config: CliConfig, store: DynamoJobStore, info: StreamBatchInfo) {
  let jobs: BatchJob[] | undefined;
  try {
    jobs = await jobsInStreamBatch(config.streams, info);
  } catch (e) {
    return [`jobs unknown: ${(e as Error).message}`];
  }
  if (!jobs) return ['jobs unknown: the records are no longer in the stream (it keeps them 24 hours)'];
  if (jobs.length === 0) return ['no job items in these records'];
  const now = new Date();
  return Promise.all(
    jobs.map(async ({ tenant, jobId }) => {
      const job = await store.get(tenant, jobId, now);
      return `${jobId}  tenant ${tenant}  ${job ? `now ${job.status}` : 'gone (expired or deleted)'}`;
    }),
  );
}

export async function run(command: string[], config: CliConfig, out: (line: string) => void): Promise<void> {
  const [group, action, ...ids] = command;
  if (group !== 'dlq' || !action) throw new UsageError(USAGE);
  const store = new DynamoJobStore(config.tableName, DynamoDBDocumentClient.from(config.dynamodb));
  // Held a little while a command runs; released (or deleted) before it returns.
  const jobMessages = await receiveAll(config.sqs, config.jobDlqUrl, 60);
  const deleted = new Set<Message>();
  try {
    if (action === 'list') {
      out(`job DLQ: ${jobMessages.length} message(s)`);
      for (const m of jobMessages) {
        const body = parse(m) as JobDlqBody;
        out(
          `  ${body.jobId ?? '?'}  tenant ${body.tenant ?? '?'}  ${reason(body)}  (message ${m.MessageId})`,
        );
      }
      const startMessages = await receiveAll(config.sqs, config.startDlqUrl, 60);
      await release(config.sqs, config.startDlqUrl, startMessages);
      out(
        `start DLQ: ${startMessages.length} message(s) (stream batches the control-executions consumer gave up on)`,
      );
      for (const m of startMessages) {
        const info = (parse(m).DDBStreamBatchInfo ?? {}) as StreamBatchInfo;
        out(
          `  shard ${String(info.shardId)} records ${String(info.startSequenceNumber)}..${String(info.endSequenceNumber)} (message ${m.MessageId})`,
        );
        for (const line of await batchJobLines(config, store, info)) out(`    ${line}`);
      }
      return;
    }
    const forJob = (id: string) => jobMessages.filter((m) => (parse(m) as JobDlqBody).jobId === id);
    if (action === 'show') {
      for (const id of ids) {
        for (const m of forJob(id)) out(JSON.stringify({ messageId: m.MessageId, body: parse(m) }, null, 2));
      }
      return;
    }
    if (action === 'redrive') {
      for (const id of ids) {
        const messages = forJob(id);
        const tenant = (messages[0] && (parse(messages[0]) as JobDlqBody).tenant) ?? undefined;
        if (!tenant) {
          out(`${id}: no message in the job DLQ, nothing redriven`);
          continue;
        }
        const job = await store.redrive(tenant, id, new Date());
        await Promise.all(
          messages.map((m) =>
            config.sqs.send(
              new DeleteMessageCommand({ QueueUrl: config.jobDlqUrl, ReceiptHandle: m.ReceiptHandle }),
            ),
          ),
        );
        out(`${id}: redriven as attempt ${job.attempt} (execution ${job.executionName})`);
      }
      return;
    }
    throw new UsageError(USAGE);
  } finally {
    await release(
      config.sqs,
      config.jobDlqUrl,
      jobMessages.filter((m) => !deleted.has(m)),
    );
  }
}

export async function dlqMain(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (!args[0]) {
    console.error(USAGE);
    return 2;
  }
  return exitCode(async () => {
    const command = ['dlq', ...args];
    const config = await configFrom(command, env);
    await run(command, config, (line) => console.log(line));
  }, console.error);
}
