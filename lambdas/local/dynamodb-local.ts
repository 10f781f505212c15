import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';

export interface DynamoDbLocalOptions {
  /** Holds the database files and the pid file. */
  dataDir: string;
  /** Keep tables in memory only (tests); nothing under dataDir is touched. */
  inMemory?: boolean;
  port?: number;
}

const START_TIMEOUT_MS = 20_000;

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
}

const JAR = 'DynamoDBLocal.jar';

const pidFileOf = (dataDir: string) => join(dataDir, 'dynamodb.pid');

export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const pidFile = options.inMemory ? undefined : pidFileOf(options.dataDir);
  if (pidFile) await killStale(pidFile);
  const port = options.port ?? (await freePort());
  const storage = options.inMemory
    ? ['-inMemory']
    : ['-dbPath', await ensureDir(join(options.dataDir, 'dynamodb'))];
  const emulator = emulatorDir();
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${join(emulator, 'DynamoDBLocal_lib')}`,
      '-jar',
      JAR,
      '-port',
      String(port),
      ...storage,
      '-sharedDb',
      '-disableTelemetry',
    ],
    // Own process group: Ctrl-C reaches only us, and we stop Java after the work that still needs it.
    { cwd: emulator, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = await spawned(child);
  if (pidFile) await writeFile(pidFile, String(pid));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(endpoint, child, START_TIMEOUT_MS);
  try {
    await warmExpressionParser(endpoint);
  } catch (e) {
    await terminate(child);
    throw e;
  }
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    pid,
    stop: () => {
      stopping ??= terminate(child).then(() => (pidFile ? rm(pidFile, { force: true }) : undefined));
      return stopping;
    },
  };
}

function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

async function ensureDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}

function spawned(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new JavaMissingError('java was not found on PATH: DynamoDB Local needs Java 17 or newer')
          : e,
      ),
    );
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port');
  return address.port;
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `DynamoDB Local exited during start-up (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`,
      );
    }
    // Any HTTP answer, even 400 to an empty request, means the server is accepting calls.
    if (
      await fetch(endpoint, { method: 'POST' }).then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`DynamoDB Local did not answer at ${endpoint} within ${timeoutMs} ms: ${stderr.trim()}`);
}

/** Made and deleted by the warm-up; one left by a crash mid-warm-up is reused, then deleted. */
export const WARM_UP_TABLE = {
  TableName: 'dynamodb-local-warm-up',
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: ['PK', 'SK'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
  KeySchema: [
    { AttributeName: 'PK', KeyType: 'HASH' },
    { AttributeName: 'SK', KeyType: 'RANGE' },
  ],
} satisfies CreateTableCommandInput;

const WARM_UP_KEY = { PK: { S: 'warm-up' }, SK: { S: 'item' } };
const WARM_UP_NAMES = { '#m': 'map', '#k': 'key', '#ttl': 'ttl' };
const WARM_UP_VALUES = {
  ':one': { N: '1' },
  ':two': { N: '2' },
  ':s': { S: 'warm' },
  ':type': { S: 'S' },
  ':list': { L: [{ N: '1' }] },
  ':set': { SS: ['a'] },
  ':pk': WARM_UP_KEY.PK,
  ':a': { S: 'a' },
  ':z': { S: 'z' },
};

/** Only the placeholders the expressions use: DynamoDB rejects unused ones. */
function placeholders(...expressions: string[]) {
  const text = expressions.join(' ');
  const used = <T>(all: Record<string, T>) =>
    Object.fromEntries(Object.entries(all).filter(([p]) => new RegExp(`${p}\\b`).test(text)));
  const names = used(WARM_UP_NAMES);
  return {
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ExpressionAttributeValues: used(WARM_UP_VALUES),
  };
}

/**
 * DynamoDB Local parses expressions with ANTLR 4.5, which fills a prediction cache shared by all
 * requests the first time each form is parsed; that runtime has known races when concurrent parsers
 * fill it. A restarted stack's first burst of concurrent conditional writes once failed with
 * `ValidationException: Invalid ConditionExpression: Index 0 out of bounds for length 0`. So before
 * the endpoint is handed out, every expression form the product sends (each function, comparator,
 * update clause, key condition and path) is parsed once, one request at a time, on a scratch table
 * that is then deleted. Any failure here is a real one and is thrown.
 */
async function warmExpressionParser(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const { TableName } = WARM_UP_TABLE;
  const Key = WARM_UP_KEY;
  const condition =
    'attribute_not_exists(PK) OR (attribute_exists(#m.#k) AND size(l) > :one AND NOT contains(s, :type) ' +
    'AND begins_with(s, :s) AND n BETWEEN :one AND :two AND n IN (:one, :two) AND n <> :two AND attribute_type(s, :type))';
  const update =
    'SET n = if_not_exists(n, :one) + :one, z = #ttl - :one, r = list_append(if_not_exists(r, :list), :list), #m.#k = :s, l[0] = :two ' +
    'REMOVE l[1], #m.gone ADD c :one, tags :set';
  const updateCondition = 'attribute_exists(PK) AND n >= :one AND n <= :two AND n < :two AND #ttl > :one';
  const transactCondition = 'attribute_exists(tags) AND (c = :one OR c > :one)';
  const filter = '#ttl > :one AND n IN (:one, :two)';
  const projection = 'PK, SK, #m.#k, l[0], n';
  try {
    await client.send(new CreateTableCommand(WARM_UP_TABLE)).catch((e: unknown) => {
      if (!(e instanceof ResourceInUseException)) throw e;
    });
    const item = {
      ...Key,
      s: { S: 'warm' },
      n: { N: '1' },
      l: { L: [{ N: '1' }, { N: '2' }] },
      map: { M: { key: { S: 'warm' }, gone: { N: '1' } } },
      ttl: { N: '2' },
    };
    await client.send(
      new PutItemCommand({
        TableName,
        Item: item,
        ConditionExpression: condition,
        ...placeholders(condition),
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName,
        Key,
        UpdateExpression: update,
        ConditionExpression: updateCondition,
        ...placeholders(update, updateCondition),
      }),
    );
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Update: {
              TableName,
              Key,
              UpdateExpression: 'DELETE tags :set',
              ConditionExpression: transactCondition,
              ...placeholders('DELETE tags :set', transactCondition),
            },
          },
        ],
      }),
    );
    for (const keyCondition of [
      'PK = :pk AND SK BETWEEN :a AND :z',
      'PK = :pk AND begins_with(SK, :a)',
      'PK = :pk AND SK < :z',
      'PK = :pk AND SK <= :z',
    ]) {
      await client.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression: keyCondition,
          FilterExpression: filter,
          ProjectionExpression: projection,
          ...placeholders(keyCondition, filter, projection),
        }),
      );
    }
    const { ExpressionAttributeNames } = placeholders(projection);
    await client.send(
      new GetItemCommand({ TableName, Key, ProjectionExpression: projection, ExpressionAttributeNames }),
    );
    await client.send(new DeleteTableCommand({ TableName }));
  } finally {
    client.destroy();
  }
}

async function terminate(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Ends the DynamoDB Local left running on `dataDir` by a parent killed with -9 (Java runs in its own
 * process group, so it outlives the group it was started from), e.g. before the data is removed.
 */
export const stopOrphanedDynamoDbLocal = (dataDir: string) => killStale(pidFileOf(dataDir));

/** A parent killed with -9 leaves Java running and holding the database files: end it before we start. */
async function killStale(pidFile: string): Promise<void> {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0 || !isDynamoDbLocal(pid)) return;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(20);
  await rm(pidFile, { force: true });
}

/** The pid may have been reused by an unrelated process since the crash; only kill our emulator. */
function isDynamoDbLocal(pid: number): boolean {
  try {
    return execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' }).includes(JAR);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
