import { describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/config/env.js';
import { API_ROUTES, INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { grantedActions, handlerFunctions, logicalId, roleStatements, synth } from './support.js';

const { stack, json, template } = synth();
const functions = handlerFunctions(stack);

function fnProps(handler: string): Record<string, unknown> {
  const id = logicalId(functions.get(handler)!.function);
  return json.Resources[id]!.Properties;
}

function envNames(handler: string): string[] {
  const env = fnProps(handler).Environment as { Variables: Record<string, unknown> };
  return Object.keys(env.Variables).sort();
}

function actionsOf(handler: string): string[] {
  return grantedActions(json, logicalId(functions.get(handler)!.role));
}

const BASE_ENV = ['AGENT_JOBS_DEPLOYMENT', 'NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME'];
const TABLE_ENV = [...BASE_ENV, ENV.tableName].sort();
/** Functions that can finish a job also write its expiry, so they carry the retention days. */
const FINISHING_ENV = [...TABLE_ENV, ENV.retentionFailedDays, ENV.retentionSucceededDays].sort();
const ALL_HANDLERS = [...new Set([...API_ROUTES.map((r) => r.handler), ...Object.values(INTERNAL_HANDLERS)])];

/**
 * Functions that answer requests have concurrency of their own (the stack's defaults), so agent
 * steps and held streams cannot starve them; the stream function's reservation also caps it.
 */
const RESERVED: Record<string, number | undefined> = {
  ...Object.fromEntries(API_ROUTES.map((r) => [r.handler, r.streaming ? 50 : 10])),
  [INTERNAL_HANDLERS.authorizer]: 50,
};

describe('lambda functions', () => {
  it('exist once per handler in the route table and the internal handlers, and nowhere else', () => {
    expect([...functions.keys()].sort()).toEqual([...ALL_HANDLERS].sort());
    template.resourceCountIs('AWS::Lambda::Function', ALL_HANDLERS.length);
  });

  it.each(ALL_HANDLERS)(
    '%s runs nodejs22.x on arm64 with active tracing and its own log group',
    (handler) => {
      const props = fnProps(handler);
      expect(props).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: { Ref: logicalId(functions.get(handler)!.logGroup) } },
      });
      expect(props.ReservedConcurrentExecutions).toBe(RESERVED[handler]);
      const env = (props.Environment as { Variables: Record<string, string> }).Variables;
      expect(env).toMatchObject({ NODE_OPTIONS: '--enable-source-maps', AGENT_JOBS_DEPLOYMENT: 'aws' });
    },
  );

  it('keep logs for the configured retention', () => {
    const groups = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(ALL_HANDLERS.length);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
  });
});

describe('environment wiring: each function gets what it reads, nothing else', () => {
  const expected: Record<string, string[]> = {
    'create-job': [...TABLE_ENV, ENV.valuesBucket].sort(),
    'list-jobs': [...TABLE_ENV, ENV.valuesBucket].sort(),
    'get-job': [...TABLE_ENV, ENV.valuesBucket].sort(),
    'cancel-job': [...FINISHING_ENV, ENV.valuesBucket].sort(),
    // Its store reads the retention days like every store that updates job items.
    'submit-input': [...FINISHING_ENV, ENV.valuesBucket].sort(),
    'health-live': BASE_ENV,
    // No model provider is configured by default: the model variables appear only with one. The
    // table is their tenant's rate bucket.
    'list-agents': TABLE_ENV,
    'get-agent': TABLE_ENV,
    'health-ready': [...TABLE_ENV, ENV.stateMachineArn].sort(),
    openapi: BASE_ENV,
    authorizer: [...TABLE_ENV, ENV.defaultLimits].sort(),
    // The tenant's limits give its token budget.
    'agent-step': [...FINISHING_ENV, ENV.valuesBucket, ENV.defaultLimits].sort(),
    'get-usage': [...TABLE_ENV, ENV.defaultLimits].sort(),
    'mark-failed': FINISHING_ENV,
    'reconcile-execution': [...FINISHING_ENV, ENV.jobDlqUrl].sort(),
    // Both admit queued jobs up to the tenant's maxRunningJobs, the stack's default when it has none.
    'sweep-jobs': [
      ...FINISHING_ENV,
      ENV.defaultLimits,
      ENV.jobDlqUrl,
      ENV.stateMachineArn,
      ENV.webhookQueueUrl,
    ].sort(),
    'control-executions': [...TABLE_ENV, ENV.defaultLimits, ENV.stateMachineArn].sort(),
    'list-events': TABLE_ENV,
    'follow-events': [...TABLE_ENV, ENV.streamMaxSeconds].sort(),
    'append-events': [...FINISHING_ENV, ENV.webhookQueueUrl].sort(),
    'list-deliveries': TABLE_ENV,
    'replay-delivery': [...FINISHING_ENV, ENV.webhookQueueUrl].sort(),
    'deliver-webhook': [
      ...FINISHING_ENV,
      ENV.webhookQueueUrl,
      ENV.webhookDlqUrl,
      ENV.webhookRetrySchedule,
      ENV.webhookSecretsPrefix,
    ].sort(),
  };

  it('covers every handler', () => {
    expect(Object.keys(expected).sort()).toEqual([...ALL_HANDLERS].sort());
  });

  it.each(Object.entries(expected))('%s', (handler, names) => {
    expect(envNames(handler)).toEqual(names);
  });

  it("points table and state machine variables at this stack's resources", () => {
    const env = (fnProps('health-ready').Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env[ENV.tableName]).toEqual({ Ref: logicalId(stack.jobs.table) });
    expect(env[ENV.stateMachineArn]).toEqual({ Ref: logicalId(stack.workflow.stateMachine) });
  });
});

describe('IAM: least privilege per function', () => {
  const expected: Record<string, string[]> = {
    // Functions that show a job whole or store a large value also read (or write) the values bucket;
    // every buffered authenticated function also writes its tenant's rate bucket (UpdateItem on RATE#*).
    'create-job': [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      's3:GetObject',
      's3:PutObject',
    ],
    'list-jobs': ['dynamodb:Query', 'dynamodb:UpdateItem', 's3:GetObject'],
    // Query reads a queued job's place in its tenant's queue.
    'get-job': ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 's3:GetObject'],
    'cancel-job': ['dynamodb:UpdateItem', 's3:GetObject'],
    'submit-input': ['dynamodb:GetItem', 'dynamodb:UpdateItem', 's3:GetObject', 's3:PutObject'],
    'health-live': [],
    'list-agents': ['dynamodb:UpdateItem'],
    'get-agent': ['dynamodb:UpdateItem'],
    'health-ready': ['dynamodb:DescribeTable', 'states:DescribeStateMachine'],
    openapi: [],
    authorizer: ['dynamodb:GetItem'],
    // The asynchronous form reports to its task, and Lambda records failed invocations in the step DLQ.
    'agent-step': [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      's3:GetObject',
      's3:PutObject',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
      'states:SendTaskSuccess',
    ],
    'mark-failed': ['dynamodb:UpdateItem'],
    'reconcile-execution': [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ],
    'sweep-jobs': [
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
      'states:DescribeExecution',
      'states:SendTaskSuccess',
      'states:StartExecution',
    ],
    // Admission: slots and queue items, the limits, and the job's status checked in the transaction.
    'control-executions': [
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:DescribeStream',
      'dynamodb:GetItem',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
      'states:DescribeExecution',
      'states:SendTaskSuccess',
      'states:StartExecution',
      'states:StopExecution',
    ],
    'list-events': ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    // Reads its job and events; updates only its tenant's rate bucket and stream leases (tenancy.test.ts).
    'follow-events': ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    'list-deliveries': ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    'replay-delivery': [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ],
    // Its table access is the delivery's: read it, record attempts. Secrets only under the stack's prefix.
    'deliver-webhook': [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'secretsmanager:CreateSecret',
      'secretsmanager:GetSecretValue',
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
      'sqs:SendMessage',
    ],
    // Append-only: it can add event and delivery items and queue deliveries, never change a job.
    'append-events': [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ],
  };

  it.each(Object.entries(expected))('%s is granted exactly its actions', (handler, actions) => {
    expect(actionsOf(handler)).toEqual(actions);
  });

  it('no function can scan or batch-write the table, or use a wildcard action', () => {
    for (const handler of ALL_HANDLERS) {
      for (const action of actionsOf(handler)) {
        expect(action).not.toMatch(/\*|Scan|BatchWriteItem|TransactWriteItems|DeleteTable/);
      }
    }
  });

  it('deletes only queue entries: DeleteItem is bound to the QUEUE# partitions', () => {
    for (const handler of ALL_HANDLERS) {
      const role = logicalId(functions.get(handler)!.role);
      const deleting = Object.values(json.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
        .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement)
        .filter((st) => [st.Action].flat().includes('dynamodb:DeleteItem'));
      for (const st of deleting) {
        expect(st.Condition).toEqual({
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['QUEUE#*'] },
        });
      }
    }
  });

  it('table actions are scoped to the table ARN, Query also to GSI1 (listing) or GSI2 (the sweep) only', () => {
    const tableArn = { 'Fn::GetAtt': [logicalId(stack.jobs.table), 'Arn'] };
    const streamRead = /^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)$/;
    for (const handler of ALL_HANDLERS.filter((h) => h !== INTERNAL_HANDLERS.controlExecutions)) {
      const statements = roleStatements(json, logicalId(functions.get(handler)!.role));
      const tableStatements = statements.filter((st) =>
        st.actions.some((a) => a.startsWith('dynamodb:') && !streamRead.test(a)),
      );
      for (const s of tableStatements) {
        const index = handler === INTERNAL_HANDLERS.sweepJobs ? 'GSI2' : 'GSI1';
        expect([tableArn, { 'Fn::Join': ['', [tableArn, `/index/${index}`]] }]).toContainEqual(s.resource);
      }
    }
  });

  it('control-executions starts and resumes executions of this state machine only and stops only its executions', () => {
    const statements = roleStatements(json, logicalId(stack.streamConsumer.handler.role));
    const sm = logicalId(stack.workflow.stateMachine);
    expect(statements).toContainEqual({
      actions: ['states:StartExecution', 'states:SendTaskSuccess'],
      resource: { Ref: sm },
    });
    const stop = statements.find((s) => s.actions.includes('states:StopExecution'));
    expect(JSON.stringify(stop?.resource)).toContain(`":execution:",{"Fn::GetAtt":["${sm}","Name"]},":*"`);
  });

  it('functions do not use the AWS managed basic-execution policy', () => {
    for (const handler of ALL_HANDLERS) {
      const role = json.Resources[logicalId(functions.get(handler)!.role)]!;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});
