import { describe, expect, it } from 'vitest';
import { API_ROUTES, INTERNAL_HANDLERS } from '../../lambdas/config/routes.js';
import { BUILT_IN_LIMITS } from '../../lambdas/domain/tenant-limits.js';
import { resolveConfig, StackConfigError } from '../../lib/stack-config.js';
import { handlerFunctions, logicalId, synth } from './support.js';

const { stack, json, template } = synth();
const outputs = template.findOutputs('*') as Record<string, { Value: unknown }>;
const functions = handlerFunctions(stack);

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

/** The role's statements that grant `action` (inline policies only). */
function statementsGranting(handler: string, action: string): Statement[] {
  const role = logicalId(functions.get(handler)!.role);
  return Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => [s.Action].flat().includes(action));
}

const policyOf = () => stack.node.findChild('TenancyAdminPolicy') as never;

const leadingKeys = (s: Statement) => s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];

describe('tenancy IAM', () => {
  const buffered = [...new Set(API_ROUTES.filter((r) => r.auth && !r.streaming).map((r) => r.handler))];

  it.each(buffered)(
    '%s may update only rate-limit items (and submit its queued count) beyond its own job writes',
    (handler) => {
      const scoped = statementsGranting(handler, 'dynamodb:UpdateItem').filter((s) => leadingKeys(s));
      const keys = handler === 'create-job' ? [['RATE#*'], ['SLOTS#*']] : [['RATE#*']];
      expect(scoped.map(leadingKeys)).toEqual(keys);
      for (const st of scoped) expect([st.Action].flat()).toEqual(['dynamodb:UpdateItem']);
    },
  );

  it("lets the event stream update only its tenant's rate bucket and stream leases beyond its job reads", () => {
    const streamed = API_ROUTES.find((r) => r.streaming)!.handler;
    const tenancy = statementsGranting(streamed, 'dynamodb:UpdateItem');
    expect(tenancy).toHaveLength(1);
    expect(leadingKeys(tenancy[0]!)).toEqual(['RATE#*', 'STREAMS#*']);
    expect([tenancy[0]!.Action].flat()).toEqual(['dynamodb:UpdateItem']);
  });

  it('lets the authorizer read key and limits items only', () => {
    const reads = statementsGranting(INTERNAL_HANDLERS.authorizer, 'dynamodb:GetItem');
    expect(reads).toHaveLength(1);
    expect(leadingKeys(reads[0]!)).toEqual(['K#*', 'TENANT#*']);
  });

  it("lets the usage route read only tenants' usage and limits items, with no job access", () => {
    const grants = statementsGranting('get-usage', 'dynamodb:Query');
    expect(grants).toHaveLength(1);
    expect([grants[0]!.Action].flat()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(leadingKeys(grants[0]!)).toEqual(['TENANT#*']);
    expect(statementsGranting('get-usage', 'dynamodb:GetItem')).toEqual(grants);
  });

  it('gives the operator CLI a managed policy for keys, limits and usage and the key list, not the jobs', () => {
    const [policy] = Object.values(json.Resources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy');
    expect(Object.values(json.Resources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy')).toHaveLength(1);
    const statements = (policy!.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['K#*', 'TENANT#*'] } },
      }),
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['KEYS'] } },
        Resource: {
          'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.jobs.table), 'Arn'] }, '/index/GSI1']],
        },
      }),
    ]);
    expect(outputs.TenancyAdminPolicyArn?.Value).toEqual({ Ref: logicalId(policyOf()) });
  });

  it('hands the default limits to the authorizer and publishes them for the CLI', () => {
    const id = logicalId(functions.get(INTERNAL_HANDLERS.authorizer)!.function);
    const env = (json.Resources[id]!.Properties.Environment as { Variables: Record<string, string> })
      .Variables;
    expect(JSON.parse(env.AGENT_JOBS_DEFAULT_LIMITS!)).toEqual(BUILT_IN_LIMITS);
    expect(JSON.parse(String(outputs.DefaultLimits?.Value))).toEqual(BUILT_IN_LIMITS);
  });

  it('lists API keys through the list index, which projects what the listing shows and never the hash', () => {
    const table = json.Resources[logicalId(stack.jobs.table)]!.Properties;
    const indexes = table.GlobalSecondaryIndexes as {
      IndexName: string;
      Projection: { ProjectionType: string; NonKeyAttributes: string[] };
    }[];
    const projection = indexes.find((i) => i.IndexName === 'GSI1')!.Projection;
    expect(projection.ProjectionType).toBe('INCLUDE');
    expect(projection.NonKeyAttributes).toEqual(
      expect.arrayContaining(['keyId', 'tenant', 'name', 'createdAt', 'expiresAt', 'revokedAt']),
    );
    expect(projection.NonKeyAttributes).not.toContain('keyHash');
  });
});

describe('tenancy configuration', () => {
  it('merges default limits and reserved concurrency over the built-in values', () => {
    const config = resolveConfig({
      defaultLimits: { requestsPerMinute: 120 },
      reservedConcurrency: { api: 5 },
    });
    expect(config.defaultLimits).toEqual({ ...BUILT_IN_LIMITS, requestsPerMinute: 120 });
    expect(config.reservedConcurrency).toEqual({ authorizer: 50, api: 5, streams: 50 });
  });

  it.each([
    [{ defaultLimits: { requestsPerMinute: 0 } }],
    [{ defaultLimits: { maxStreams: 1.5 } }],
    [{ defaultLimits: { maxRunningJobs: 1_001 } }],
    [{ reservedConcurrency: { authorizer: 0 } }],
    [{ publicThrottling: { burstLimit: -1 } }],
  ])('refuses %j before synthesis', (input) => {
    expect(() => resolveConfig(input as never)).toThrow(StackConfigError);
  });
});
