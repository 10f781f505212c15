import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { announce, seqBeforeLastWrite, STATUS_NAMES, statusCondition } from '../../config/job-writes.js';
import {
  INPUT_TOKEN_ATTRIBUTE,
  listSk,
  liveShard,
  positionOf,
  TABLE_KEYS,
  tenantPk,
} from '../../config/table.js';
import { DomainError, NotFoundError, RateLimitedError } from '../../domain/errors.js';
import type { InputRequest, Job, JobError, JsonValue } from '../../domain/job.js';
import { canRedrive, MOVES, REDRIVE, redriveExecutionName } from '../../domain/job.js';
import { type JobEventType, type StepEvent, stepEventWrites } from '../../domain/job-events.js';
import type { Checkpoint, ListQuery, StepSnapshot, SubmitLimits } from '../../domain/job-store.js';
import { ceilSeconds, type GcraDecision, type GcraPolicy } from '../../domain/gcra.js';
import type { RetentionPolicy } from '../../domain/retention.js';
import { isExpired, liveExpiry, terminalExpiry, toTtl } from '../../domain/retention.js';
import { cancellation, DynamoJobSlots, sendTransaction, type TransactItem } from '../dynamo-job-slots.js';
import { DynamoRateLimiter, RateLimitPart } from '../dynamo-rate-limiter.js';
import { conditionalWrite, conditionalWriteLanded } from '../dynamo-table.js';
import type { LargeValueStore } from '../large-value-store.js';
import { IdempotencyKeys, isTransactionRace } from './idempotency-keys.js';
import {
  committedWrite,
  jobKey,
  type JobItem,
  LIVE_KEYS,
  refusal,
  replayOf,
  RESUMED,
  stepValues,
  USAGE_NAME,
  usageUpdate,
  toJob,
} from './job-item.js';
import { anywhere, JobValues, PUBLIC_VALUES, STEP_VALUES } from './job-values.js';
import { writeWithTally } from './usage-tally.js';

const { partition: PK } = TABLE_KEYS;
/**
 * The data of the step events the last write announced. Only that write's stream record needs it:
 * a step's own write drops it (or replaces it with its own step events' data), so later writes of
 * the item do not carry (and pay for) it again.
 */
const STEP_EVENT_DATA = 'lastEventData';

/** Without limits (stores used directly by operators and tests) the queue is bounded only by the limit schema. */
const UNBOUNDED: SubmitLimits = { maxQueuedJobs: 100_000_000 };
/**
 * Sends of a submit pinned to the rate bucket's TAT: the first, and again after another request
 * moved the bucket; then the limiter's own write takes over.
 */
const SUBMIT_ATTEMPTS = 3;
/** How many index pages one list request may read while a status filter skips items. */
const MAX_LIST_PAGES = 5;

type UpdateParts = Pick<
  UpdateCommandInput,
  'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

const rateRefusal = (policy: GcraPolicy, decision: GcraDecision) =>
  new RateLimitedError(
    `over ${policy.limit} requests per minute; retry after the Retry-After seconds`,
    Math.max(1, ceilSeconds(decision.retryAfterMs)),
    decision,
  );

/** Job items: every read and conditional write of a job's own item. */
export class JobItems {
  private readonly keys: IdempotencyKeys;
  private readonly values: JobValues;
  private readonly slots: DynamoJobSlots;
  private readonly rate: DynamoRateLimiter;

  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient,
    private readonly retention?: RetentionPolicy,
    values?: LargeValueStore,
  ) {
    this.keys = new IdempotencyKeys(tableName, client);
    this.values = new JobValues(values);
    this.slots = new DynamoJobSlots(tableName, client);
    this.rate = new DynamoRateLimiter(tableName, client);
  }

  async create(job: Job, fingerprint: string, now: Date, idempotencyKeyId?: string, limits?: SubmitLimits) {
    if (idempotencyKeyId !== undefined)
      return this.createOnce(job, fingerprint, now, idempotencyKeyId, limits);
    const rate = await this.submit([{ Put: await this.newJobPut(job, fingerprint) }], job, now, limits);
    return { job, created: true, fingerprint, rate };
  }

  /** Ids are random: a clash would be a bug, never a job to hand back. */
  private async newJobPut(job: Job, fingerprint: string) {
    return {
      TableName: this.tableName,
      Item: await this.values.newItem(job, fingerprint),
      ConditionExpression: `attribute_not_exists(${PK})`,
    };
  }

  /**
   * A submit is one transaction: the job's items, its entry in the tenant's queue, the tenant's
   * queued count (moved on only below `maxQueuedJobs`) and, with `requests`, the tenant's
   * request-rate bucket, so admission and write are one round trip. Refused, nothing is written.
   */
  private async submit(items: TransactItem[], job: Job, now: Date, limits: SubmitLimits = UNBOUNDED) {
    const policy = limits.requests;
    let rate = policy && this.rate.part(job.tenant, policy, now.getTime());
    for (let attempt = 1; rate; attempt++) {
      try {
        await this.send(items, job, now, limits, rate.item);
        return rate.admitted();
      } catch (e) {
        const why = cancellation(e);
        if (why?.codes[0] !== 'ConditionalCheckFailed') throw this.refusal(e, items, now, limits, 1);
        const next = rate.refused(why.items[0]);
        if (!(next instanceof RateLimitPart)) throw rateRefusal(policy!, next);
        rate = attempt < SUBMIT_ATTEMPTS ? next : undefined;
      }
    }
    // Concurrent submits of the tenant kept moving the bucket: admit with the limiter's own write
    // (it needs no expected TAT), then write the job. Two round trips, only under that contention.
    const decision = policy && (await this.rate.admit(job.tenant, policy, now.getTime()));
    if (decision && !decision.admitted) throw rateRefusal(policy!, decision);
    try {
      await this.send(items, job, now, limits);
    } catch (e) {
      throw this.refusal(e, items, now, limits, 0);
    }
    return decision;
  }

  private send(items: TransactItem[], job: Job, now: Date, limits: SubmitLimits, rate?: TransactItem) {
    const sent = [...(rate ? [rate] : []), ...items, ...this.slots.submitItems(job, limits.maxQueuedJobs)];
    return sendTransaction(this.client, sent);
  }

  /** A full queue as quota_exceeded; anything else as it came. */
  private refusal(e: unknown, items: TransactItem[], now: Date, limits: SubmitLimits, offset: number) {
    return this.slots.submitRefusal(e, offset + items.length, limits.maxQueuedJobs, now.getTime()) ?? e;
  }

  /** A submit's answer to a retry: the job the key created, whole. */
  private async replay(item: JobItem) {
    return replayOf(await this.values.hydrate(item, PUBLIC_VALUES));
  }

  /**
   * A submit with an Idempotency-Key. The key's item names the job it created; while that job is
   * readable, a retry is answered with it by two reads and no write. Otherwise the key item and the
   * new job are written in one transaction, so neither exists without the other, and the key
   * item's condition lets only one of racing duplicates (or of reuses after expiry) win.
   */
  private async createOnce(job: Job, fingerprint: string, now: Date, keyId: string, limits?: SubmitLimits) {
    const keyItem = await this.keys.jobOf(job.tenant, keyId);
    const previous = keyItem && (await this.getItem(job.tenant, keyItem.jobId));
    if (previous && !isExpired(previous.expiresAt, now)) return this.replay(previous);
    try {
      const items = [
        { Put: this.keys.put(job, keyId, keyItem?.jobId) },
        { Put: await this.newJobPut(job, fingerprint) },
      ];
      const rate = await this.submit(items, job, now, limits);
      return { job, created: true, fingerprint, rate };
    } catch (e) {
      if (!isTransactionRace(e)) throw e;
    }
    // A duplicate won the race: both its items are committed, so its job is there to hand back.
    const winner = await this.keys.jobOf(job.tenant, keyId);
    const current = winner && (await this.getItem(job.tenant, winner.jobId));
    if (current && !isExpired(current.expiresAt, now)) return this.replay(current);
    throw new DomainError('idempotency_key_in_use', 'a request with this Idempotency-Key is being processed');
  }

  private async getItem(tenant: string, id: string): Promise<JobItem | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(tenant, id), ConsistentRead: true }),
    );
    return Item as JobItem | undefined;
  }

  async get(tenant: string, id: string, now: Date) {
    const item = await this.getItem(tenant, id);
    if (!item || isExpired(item.expiresAt, now)) return undefined;
    return toJob(await this.values.hydrate(item, PUBLIC_VALUES));
  }

  async list(tenant: string, query: ListQuery, now: Date) {
    const jobs: Job[] = [];
    let startKey: Record<string, unknown> | undefined = query.after && {
      [TABLE_KEYS.listPartition]: tenantPk(tenant),
      [TABLE_KEYS.listSort]: listSk(query.after),
      ...jobKey(tenant, query.after.id),
    };
    // Same expiry test as `get` (ISO timestamps order as strings), so the two never disagree.
    const filters = ['expiresAt > :now'];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':pk': tenantPk(tenant), ':now': now.toISOString() };
    if (query.status) {
      filters.push('#status = :status');
      names['#status'] = 'status';
      values[':status'] = query.status;
    }
    for (let page = 0; page < MAX_LIST_PAGES && jobs.length < query.limit; page++) {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE_KEYS.listIndex,
          KeyConditionExpression: `${TABLE_KEYS.listPartition} = :pk`,
          FilterExpression: filters.join(' AND '),
          ExpressionAttributeNames: query.status ? names : undefined,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: query.limit - jobs.length,
          ExclusiveStartKey: startKey,
        }),
      );
      const items = await Promise.all((out.Items ?? []).map((i) => this.values.hydrate(i, ['metadata'])));
      jobs.push(...items.map(toJob));
      startKey = out.LastEvaluatedKey;
      if (!startKey) break;
    }
    const next = startKey && positionOf(startKey[TABLE_KEYS.listSort] as string);
    return { jobs, next };
  }

  async cancel(tenant: string, id: string, now: Date) {
    const at = now.toISOString();
    const expiresAt = terminalExpiry('cancelled', now, this.retention);
    const from = statusCondition(MOVES.cancel.from);
    const events = announce('job.cancelled');
    const outcome = await this.clientUpdate(tenant, id, now, {
      UpdateExpression:
        `SET #status = :cancelled, completedAt = :at, updatedAt = :at, expiresAt = :exp, #ttl = :ttl, ${events.update} ` +
        `REMOVE ${anywhere('agentState')}, ${RESUMED}, ${LIVE_KEYS}`,
      ConditionExpression: `attribute_exists(${PK}) AND expiresAt > :now AND ${from.condition}`,
      ExpressionAttributeNames: { ...STATUS_NAMES, '#ttl': TABLE_KEYS.ttl },
      ExpressionAttributeValues: {
        ...from.values,
        ...events.values,
        ':cancelled': MOVES.cancel.to,
        ':at': at,
        ':exp': expiresAt.toISOString(),
        ':ttl': toTtl(expiresAt),
        ':now': at,
      },
    });
    if ('job' in outcome) return outcome.job;
    const old = outcome.refused;
    if (old.status === 'cancelled') return toJob(await this.values.hydrate(old, PUBLIC_VALUES));
    throw refusal(old, `the job is already ${old.status}`);
  }

  async loadForStep(tenant: string, id: string): Promise<StepSnapshot | undefined> {
    const item = await this.getItem(tenant, id);
    if (!item) return undefined;
    // A job that no longer runs takes no step: its values need not be read.
    if (item.status === 'running') await this.values.hydrate(item, STEP_VALUES);
    return {
      job: toJob(item),
      state: item.agentState ?? null,
      answer: item.answer,
      completedSteps: item.completedSteps,
      ...(item.eventsStep === undefined ? {} : { eventsStep: item.eventsStep }),
      ...(item.earlierUsage ? { earlierUsage: item.earlierUsage } : {}),
    };
  }

  async answeredWait(tenant: string, id: string) {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: jobKey(tenant, id),
        ProjectionExpression: `#status, ${RESUMED}`,
        ExpressionAttributeNames: STATUS_NAMES,
        ConsistentRead: true,
      }),
    );
    const token = Item?.[INPUT_TOKEN_ATTRIBUTE] as string | undefined;
    if (Item?.status !== MOVES.answer.to || token === undefined || Item.answeredAt === undefined)
      return undefined;
    return { token, answeredAt: Item.answeredAt as string };
  }

  async checkpoint(tenant: string, id: string, cp: Checkpoint, now: Date) {
    const events = await this.stepAnnouncement(tenant, id, cp, now, 'job.progress');
    if (!events) return false;
    const state = await this.values.place(tenant, id, 'agentState', cp.state, 'state');
    return this.stepUpdate(
      'checkpoint',
      tenant,
      id,
      `SET progress = :progress, progressData = :data, completedSteps = :steps, ${state.set}, ` +
        `${usageUpdate(cp)}updatedAt = :at, ${events.update} REMOVE ${state.remove}, ${RESUMED}${events.remove}`,
      {
        ...events.values,
        ...stepValues(cp),
        ...state.values,
        ':at': now.toISOString(),
      },
      cp.completedSteps - 1,
      { ...state.names, ...USAGE_NAME },
      cp.tally,
    );
  }

  /**
   * Announces a running step's own events (streamed text, tool calls), in writes whose data stays
   * small (see stepEventWrites), while the job runs. Each write also records the step they belong
   * to, so a later attempt of that step knows an earlier one announced events (`eventsStep`).
   */
  async appendEvents(tenant: string, id: string, step: number, events: readonly StepEvent[], now: Date) {
    for (const write of stepEventWrites(events)) {
      if (!(await this.appendWrite(tenant, id, step, write, now))) return false;
    }
    return true;
  }

  /**
   * The events of a step's own write: the step's last events (Checkpoint.events) first, with their
   * data, then the write's `own`. Step events beyond one write's bound go out before it in writes
   * of their own; undefined when one of those found the job no longer running.
   */
  private async stepAnnouncement(
    tenant: string,
    id: string,
    cp: Omit<Checkpoint, 'state'>,
    now: Date,
    ...own: JobEventType[]
  ) {
    const writes = stepEventWrites(cp.events ?? []);
    const last = writes.pop() ?? [];
    for (const write of writes) {
      if (!(await this.appendWrite(tenant, id, cp.completedSteps, write, now))) return undefined;
    }
    const announced = announce(...last.map((e) => e.type), ...own);
    if (last.length === 0) return { ...announced, remove: `, ${STEP_EVENT_DATA}` };
    return {
      update: `${announced.update}, ${STEP_EVENT_DATA} = :eventData`,
      values: { ...announced.values, ':eventData': last.map((e) => e.data) },
      remove: '',
    };
  }

  private appendWrite(tenant: string, id: string, step: number, events: readonly StepEvent[], now: Date) {
    const announced = announce(...events.map((e) => e.type));
    const from = statusCondition(MOVES.checkpoint.from);
    return conditionalWriteLanded(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: jobKey(tenant, id),
        UpdateExpression: `SET lastEventData = :eventData, eventsStep = :step, updatedAt = :at, ${announced.update}`,
        ConditionExpression: from.condition,
        ExpressionAttributeNames: STATUS_NAMES,
        ExpressionAttributeValues: {
          ...announced.values,
          ...from.values,
          ':eventData': events.map((e) => e.data),
          ':step': step,
          ':at': now.toISOString(),
        },
      }),
    );
  }

  async succeed(tenant: string, id: string, result: JsonValue, cp: Omit<Checkpoint, 'state'>, now: Date) {
    const expiresAt = terminalExpiry('succeeded', now, this.retention);
    // The last step's progress report and the success are two events of one write.
    const events = await this.stepAnnouncement(tenant, id, cp, now, 'job.progress', 'job.succeeded');
    if (!events) return false;
    const placed = await this.values.place(tenant, id, 'result', result, 'result');
    return this.stepUpdate(
      'succeed',
      tenant,
      id,
      `SET #status = :succeeded, ${placed.set}, progress = :progress, progressData = :data, ` +
        `completedSteps = :steps, ${usageUpdate(cp)}completedAt = :at, updatedAt = :at, expiresAt = :exp, ` +
        `#ttl = :ttl, ${events.update} ` +
        `REMOVE ${placed.remove}, ${anywhere('agentState')}, ${RESUMED}, ${LIVE_KEYS}${events.remove}`,
      {
        ...events.values,
        ':succeeded': MOVES.succeed.to,
        ...placed.values,
        ...stepValues(cp),
        ':at': now.toISOString(),
        ':exp': expiresAt.toISOString(),
        ':ttl': toTtl(expiresAt),
      },
      cp.completedSteps - 1,
      { ...placed.names, '#ttl': TABLE_KEYS.ttl, ...USAGE_NAME },
      cp.tally,
    );
  }

  async requestInput(tenant: string, id: string, cp: Checkpoint, request: InputRequest, now: Date) {
    // The last step's progress and the question are two events of one write.
    const events = await this.stepAnnouncement(tenant, id, cp, now, 'job.progress', 'job.input_required');
    if (!events) return false;
    const state = await this.values.place(tenant, id, 'agentState', cp.state, 'state');
    return this.stepUpdate(
      'requestInput',
      tenant,
      id,
      'SET #status = :waiting, inputRequest = :request, progress = :progress, progressData = :data, ' +
        `completedSteps = :steps, ${state.set}, ${usageUpdate(cp)}updatedAt = :at, ${events.update} ` +
        `REMOVE ${state.remove}, ${anywhere('answer')}, ${RESUMED}${events.remove}`,
      {
        ...events.values,
        ':waiting': MOVES.requestInput.to,
        ':request': request,
        ...stepValues(cp),
        ...state.values,
        ':at': now.toISOString(),
      },
      cp.completedSteps - 1,
      { ...state.names, ...USAGE_NAME },
      cp.tally,
    );
  }

  async submitInput(tenant: string, id: string, answer: JsonValue, now: Date) {
    const at = now.toISOString();
    const events = announce('job.running');
    const placed = await this.values.place(tenant, id, 'answer', answer, 'answer');
    const from = statusCondition(MOVES.answer.from);
    const outcome = await this.clientUpdate(tenant, id, now, {
      // The token stays until the next step's write: until then the table itself says the wait
      // was answered and may still need resuming (the stream consumer does it; the sweep repeats it).
      UpdateExpression:
        `SET #status = :running, ${placed.set}, answeredAt = :at, updatedAt = :at, ${events.update} ` +
        `REMOVE inputRequest, ${placed.remove}`,
      ConditionExpression: `attribute_exists(${PK}) AND expiresAt > :at AND ${from.condition}`,
      ExpressionAttributeNames: { ...STATUS_NAMES, ...placed.names },
      ExpressionAttributeValues: {
        ...from.values,
        ...events.values,
        ':running': MOVES.answer.to,
        ...placed.values,
        ':at': at,
      },
    });
    if ('job' in outcome) return outcome.job;
    throw refusal(outcome.refused, `the job is ${outcome.refused.status}, not waiting for input`);
  }

  /**
   * A client's conditional update of a job: the job after it or, when the condition refused it,
   * the job as it stood (returned by the same request, no extra read). Missing or expired is a 404.
   */
  private async clientUpdate(
    tenant: string,
    id: string,
    now: Date,
    update: UpdateParts,
  ): Promise<{ job: Job } | { refused: JobItem }> {
    const outcome = await conditionalWrite(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: jobKey(tenant, id),
        ...update,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    if (outcome.written) return { job: toJob(await this.values.hydrate(outcome.attributes!, PUBLIC_VALUES)) };
    const old = outcome.refused as JobItem | undefined;
    if (!old || isExpired(old.expiresAt, now)) throw new NotFoundError();
    return { refused: old };
  }

  /**
   * A step's write lands only while the job may make the step's move (it runs) and only once per
   * step (a retried step resumes). What the step adds to the tenant's usage is written with it.
   */
  private stepUpdate(
    move: 'checkpoint' | 'succeed' | 'requestInput',
    tenant: string,
    id: string,
    update: string,
    values: Record<string, unknown>,
    expectedSteps: number,
    names: Record<string, string>,
    tally: Checkpoint['tally'],
  ) {
    const from = statusCondition(MOVES[move].from);
    const write = {
      TableName: this.tableName,
      Key: jobKey(tenant, id),
      UpdateExpression: update,
      ConditionExpression: `${from.condition} AND completedSteps = :expected`,
      ExpressionAttributeNames: { ...names, ...STATUS_NAMES },
      ExpressionAttributeValues: { ...values, ...from.values, ':expected': expectedSteps },
    };
    if (tally) return writeWithTally(this.client, write, tenant, tally);
    return conditionalWriteLanded(this.client, new UpdateCommand(write));
  }

  fail(tenant: string, id: string, error: JobError, now: Date, executionName?: string) {
    const expiresAt = terminalExpiry('failed', now, this.retention);
    const from = statusCondition(MOVES.fail.from);
    const events = announce('job.failed');
    return conditionalWriteLanded(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: jobKey(tenant, id),
        UpdateExpression:
          'SET #status = :failed, #error = :error, completedAt = :at, updatedAt = :at, expiresAt = :exp, ' +
          `#ttl = :ttl, ${events.update} REMOVE ${anywhere('agentState')}, ${RESUMED}, ${LIVE_KEYS}`,
        ConditionExpression:
          executionName === undefined ? from.condition : `${from.condition} AND executionName = :execution`,
        ExpressionAttributeNames: { ...STATUS_NAMES, '#error': 'error', '#ttl': TABLE_KEYS.ttl },
        ExpressionAttributeValues: {
          ...from.values,
          ...events.values,
          ':failed': MOVES.fail.to,
          ':error': error,
          ':at': now.toISOString(),
          ':exp': expiresAt.toISOString(),
          ':ttl': toTtl(expiresAt),
          ...(executionName === undefined ? {} : { ':execution': executionName }),
        },
      }),
    );
  }

  async redrive(tenant: string, id: string, now: Date) {
    const job = await this.get(tenant, id, now);
    if (!job) throw new NotFoundError();
    if (!canRedrive(job.status)) {
      throw new DomainError(
        'invalid_transition',
        `only a failed job can be redriven; this one is ${job.status}`,
      );
    }
    const outcome = await conditionalWrite(this.client, await this.redriveUpdate(job, now));
    if (outcome.written) return toJob(await this.values.hydrate(outcome.attributes!, PUBLIC_VALUES));
    throw new DomainError('invalid_transition', 'the job changed while it was being redriven; try again');
  }

  /** The new attempt stores its input and metadata again: their lifecycle clock starts over with it. */
  private async redriveUpdate(job: Job, now: Date) {
    const attempt = job.attempt + 1;
    const expiresAt = liveExpiry(now, job.timeoutSeconds, this.retention);
    const events = announce('job.redriven');
    // A value this function could not read back stays where it is (never overwritten by its stand-in).
    const placed = await Promise.all(
      (['input', 'metadata'] as const)
        .filter((name) => !job.omitted?.includes(name))
        .map((name) => this.values.place(job.tenant, job.id, name, job[name], name)),
    );
    const sets = placed.map((p) => `, ${p.set}`).join('');
    const removes = placed.map((p) => `, ${p.remove}`).join('');
    const from = statusCondition(REDRIVE.from);
    return new UpdateCommand({
      TableName: this.tableName,
      Key: jobKey(job.tenant, job.id),
      // A fresh run: the deadline counts from its own start, steps from zero; the log keeps the history.
      UpdateExpression:
        'SET #status = :pending, attempt = :attempt, executionName = :execution, progress = :progress, ' +
        'completedSteps = :zero, #error = :null, #result = :null, inputRequest = :null, completedAt = :null, ' +
        `updatedAt = :at, expiresAt = :exp, #ttl = :ttl, ${TABLE_KEYS.livePartition} = :shard, ` +
        // The answered calls of the attempts so far stay counted: the new attempt's usage adds to them.
        'earlierUsage = if_not_exists(#usage, :null), ' +
        `${TABLE_KEYS.liveSort} = :liveSort${sets}, ${events.update} ` +
        `REMOVE startedAt, ${anywhere('agentState', 'answer')}, resultRef, progressData, eventsStep, ${RESUMED}${removes}`,
      // The attempt read above must still be current: two operators cannot both redrive it.
      ConditionExpression: `${from.condition} AND attempt = :previous`,
      ExpressionAttributeNames: {
        ...STATUS_NAMES,
        '#error': 'error',
        '#result': 'result',
        '#ttl': TABLE_KEYS.ttl,
        ...USAGE_NAME,
        ...Object.assign({}, ...placed.map((p) => p.names)),
      },
      ExpressionAttributeValues: {
        ...from.values,
        ...events.values,
        ...Object.assign({}, ...placed.map((p) => p.values)),
        ':pending': REDRIVE.to,
        ':attempt': attempt,
        ':previous': job.attempt,
        ':execution': redriveExecutionName(job.id, attempt),
        ':progress': { fraction: 0, step: 0, message: null },
        ':zero': 0,
        ':null': null,
        ':at': now.toISOString(),
        ':exp': expiresAt.toISOString(),
        ':ttl': toTtl(expiresAt),
        ':shard': liveShard(job.id),
        ':liveSort': listSk(job),
      },
      ReturnValues: 'ALL_NEW',
    });
  }

  /** The job's last committed write as its item records it, or undefined for a missing job. */
  async latestWrite(tenant: string, id: string) {
    const item = await this.getItem(tenant, id);
    if (!item) return undefined;
    return committedWrite(item as unknown as Record<string, unknown>, { eventSeq: seqBeforeLastWrite(item) });
  }
}
