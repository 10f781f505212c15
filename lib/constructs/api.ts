import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/config/env.js';
import { TENANCY_KEYS } from '../../lambdas/config/table.js';
import {
  GATEWAY_PROBLEMS,
  type GatewayProblem,
  gatewayProblemBody,
  PROBLEM_CONTENT_TYPE,
} from '../../lambdas/config/gateway-responses.js';
import {
  API_ROUTES,
  API_STAGE,
  type ApiRoute,
  DEFAULT_STREAM_MAX_SECONDS,
  INTERNAL_HANDLERS,
} from '../../lambdas/config/routes.js';
import type { AgentJobsConfig } from '../stack-config.js';
import { HandlerFunction } from './handler-function.js';
import type { JobsTable, TableAction } from './jobs-table.js';
import type { ValuesAccess } from './job-values-bucket.js';
import type { WebhookDelivery } from './webhook-delivery.js';

/**
 * Construct ids that outlived a handler's rename: a new id would replace the function, its role and
 * its log group (the old group, retained, would be orphaned), where keeping it updates them in place.
 */
const STABLE_IDS: Record<string, string> = { 'follow-events': 'StreamJob' };

export interface JobsApiProps {
  readonly jobs: JobsTable;
  readonly stateMachine: sfn.StateMachine;
  /** Replays queue deliveries. */
  readonly webhooks: WebhookDelivery;
  readonly throttling: AgentJobsConfig['apiThrottling'];
  readonly publicThrottling: AgentJobsConfig['publicThrottling'];
  readonly reservedConcurrency: AgentJobsConfig['reservedConcurrency'];
  readonly defaultLimits: AgentJobsConfig['defaultLimits'];
  readonly logRetention: RetentionDays;
}

/** Exactly the table calls each handler makes; a handler missing here gets no table access at all. */
const TABLE_ACCESS: Readonly<Record<string, readonly TableAction[]>> = {
  // GetItem answers a keyed retry without a write; PutItem writes the job (and, in one
  // transaction with it, the Idempotency-Key's item: transactions need each item's own action).
  'create-job': ['GetItem', 'PutItem'],
  'list-jobs': ['Query'],
  'get-job': ['GetItem'],
  'list-events': ['GetItem', 'Query'],
  'follow-events': ['GetItem', 'Query'],
  'cancel-job': ['UpdateItem'],
  'submit-input': ['GetItem', 'UpdateItem'],
  'list-deliveries': ['GetItem', 'Query'],
  'replay-delivery': ['GetItem', 'UpdateItem'],
  'health-ready': ['DescribeTable'],
};

/**
 * Which functions read or write the job values kept outside the table: those that show a job
 * whole or store a large input, metadata or answer. Any other function sees only the item.
 */
const VALUES_ACCESS: Readonly<Record<string, ValuesAccess>> = {
  'create-job': 'readWrite',
  'list-jobs': 'read',
  'get-job': 'read',
  'cancel-job': 'read',
  'submit-input': 'readWrite',
};

const ACCESS_LOG_FORMAT = apigateway.AccessLogFormat.custom(
  JSON.stringify({
    requestId: apigateway.AccessLogField.contextRequestId(),
    ip: apigateway.AccessLogField.contextIdentitySourceIp(),
    method: apigateway.AccessLogField.contextHttpMethod(),
    path: apigateway.AccessLogField.contextPath(),
    route: apigateway.AccessLogField.contextResourcePath(),
    // Who called: the tenant the authorizer resolved ('-' when the route is public or the key was refused).
    tenant: apigateway.AccessLogField.contextAuthorizer('tenant'),
    status: apigateway.AccessLogField.contextStatus(),
    latency: apigateway.AccessLogField.contextResponseLatency(),
    // Without execution logging this is the only trace of why the gateway itself refused a request.
    error: apigateway.AccessLogField.contextErrorMessage(),
  }),
);

/** `/v1/jobs/{id}` -> `/jobs/{id}`: the stage name already supplies the `/v1` prefix. */
export function resourcePath(route: ApiRoute): string {
  const prefix = `/${API_STAGE}`;
  if (!route.path.startsWith(`${prefix}/`)) throw new Error(`route ${route.path} is not under ${prefix}`);
  return route.path.slice(prefix.length);
}

/**
 * The public REST API, built from the shared route table: one function per handler, the
 * authorizer on every route that needs a key, and problem+json for answers the gateway gives itself.
 */
export class JobsApi extends Construct {
  public readonly restApi: apigateway.RestApi;
  public readonly accessLogs: LogGroup;
  public readonly authorizer: apigateway.RequestAuthorizer;
  /** Keyed by handler name (file name under lambdas/handlers). */
  public readonly handlers: ReadonlyMap<string, HandlerFunction>;

  constructor(scope: Construct, id: string, props: JobsApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.restApi = new apigateway.RestApi(this, 'RestApi', {
      restApiName: Stack.of(this).stackName,
      description: 'agent-jobs: asynchronous job API for AI agents',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: false,
      minCompressionSize: Size.kibibytes(1),
      deployOptions: {
        stageName: API_STAGE,
        throttlingRateLimit: props.throttling.rateLimit,
        throttlingBurstLimit: props.throttling.burstLimit,
        methodOptions: publicMethodThrottling(props.publicThrottling),
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: ACCESS_LOG_FORMAT,
        tracingEnabled: true,
        metricsEnabled: true,
      },
    });
    // The stack exports the URL under a stable name (ApiUrl); the generated one would be a second copy.
    this.restApi.node.tryRemoveChild('Endpoint');
    const handlerNames = [...new Set(API_ROUTES.map((r) => r.handler)), INTERNAL_HANDLERS.authorizer];
    this.handlers = new Map(handlerNames.map((name) => [name, this.createHandler(name, props)]));
    this.authorizer = new apigateway.RequestAuthorizer(this, 'RequestAuthorizer', {
      handler: this.handler(INTERNAL_HANDLERS.authorizer).function,
      // No identity source: the key may arrive in either of two headers, and API Gateway would
      // refuse a request lacking any listed source before the authorizer saw it. That is only
      // allowed with caching off, which we want anyway: the only cache is the authorizer's own
      // 30 s one, so a revoked key stops working within 30 s.
      identitySources: [],
      resultsCacheTtl: Duration.seconds(0),
    });
    for (const route of API_ROUTES) this.addRoute(route);
    for (const problem of GATEWAY_PROBLEMS) this.addGatewayProblem(problem);
    this.grantReadiness(props.stateMachine);
    this.acknowledgeFindings();
  }

  public handler(name: string): HandlerFunction {
    const fn = this.handlers.get(name);
    if (!fn) throw new Error(`no API handler named ${name}`);
    return fn;
  }

  private createHandler(name: string, props: JobsApiProps): HandlerFunction {
    const route = API_ROUTES.find((r) => r.handler === name);
    const fn = new HandlerFunction(this, STABLE_IDS[name] ?? pascalCase(name), {
      handler: name,
      logRetention: props.logRetention,
      ...(route?.timeoutSeconds ? { timeout: Duration.seconds(route.timeoutSeconds) } : {}),
    });
    const access = TABLE_ACCESS[name];
    if (access) props.jobs.bindTable(fn.function, access);
    const values = VALUES_ACCESS[name];
    if (values) props.jobs.bindValues(fn.function, values);
    this.grantTenancy(name, route, fn, props);
    if (name === 'get-usage') this.grantUsage(fn, props);
    if (name === 'replay-delivery') props.webhooks.grantEnqueue(fn.function);
    if (route?.streaming)
      fn.function.addEnvironment(ENV.streamMaxSeconds, String(DEFAULT_STREAM_MAX_SECONDS));
    return fn;
  }

  /**
   * The authorizer reads keys and limits; every authenticated function writes its tenant's rate
   * bucket, and the streamed one its tenant's stream leases too. Each gets reserved concurrency.
   */
  private grantTenancy(name: string, route: ApiRoute | undefined, fn: HandlerFunction, props: JobsApiProps) {
    const reserved = props.reservedConcurrency;
    if (name === INTERNAL_HANDLERS.authorizer) {
      props.jobs.grantItems(fn.function, ['GetItem'], [`${TENANCY_KEYS.apiKey}*`, `${TENANCY_KEYS.limits}*`]);
      fn.function.addEnvironment(ENV.defaultLimits, JSON.stringify(props.defaultLimits));
      reserve(fn, reserved.authorizer);
      return;
    }
    reserve(fn, route?.streaming ? reserved.streams : reserved.api);
    if (!route?.auth) return;
    const buckets = route.streaming ? [TENANCY_KEYS.rate, TENANCY_KEYS.streams] : [TENANCY_KEYS.rate];
    props.jobs.grantItems(
      fn.function,
      ['UpdateItem'],
      buckets.map((prefix) => `${prefix}*`),
    );
    // Submit counts the job into its tenant's queue; GET tells a queued job's place in it.
    if (name === 'create-job') props.jobs.grantItems(fn.function, ['UpdateItem'], [`${TENANCY_KEYS.slots}*`]);
    if (name === 'get-job') props.jobs.grantItems(fn.function, ['Query'], [`${TENANCY_KEYS.queue}*`]);
  }

  /** Usage days and the limits item both live in the tenant's own partition (`TENANT#<tenant>`). */
  private grantUsage(fn: HandlerFunction, props: JobsApiProps) {
    props.jobs.grantItems(fn.function, ['GetItem', 'Query'], [`${TENANCY_KEYS.limits}*`]);
    fn.function.addEnvironment(ENV.defaultLimits, JSON.stringify(props.defaultLimits));
  }

  private addRoute(route: ApiRoute): void {
    const integration = new apigateway.LambdaIntegration(this.handler(route.handler).function, {
      allowTestInvoke: false,
      // A streamed response may last as long as the function; buffered ones keep the 29 s default.
      ...(route.streaming
        ? {
            responseTransferMode: apigateway.ResponseTransferMode.STREAM,
            timeout: Duration.seconds(route.timeoutSeconds ?? 900),
          }
        : {}),
    });
    const auth: apigateway.MethodOptions = route.auth
      ? { authorizer: this.authorizer, authorizationType: apigateway.AuthorizationType.CUSTOM }
      : { authorizationType: apigateway.AuthorizationType.NONE };
    const method = this.restApi.root
      .resourceForPath(resourcePath(route))
      .addMethod(route.method, integration, auth);
    const reason = route.auth
      ? 'Callers are agents holding API keys, checked by the Lambda authorizer; there are no Cognito users.'
      : `${route.method} ${route.path} is public by contract: no API key.`;
    const findings = route.auth ? ['AwsSolutions-COG4'] : ['AwsSolutions-APIG4', 'AwsSolutions-COG4'];
    Validations.of(method).acknowledge(...findings.map((id) => ({ id, reason })));
  }

  private addGatewayProblem(problem: GatewayProblem): void {
    const keepsOwnStatus = problem.type === 'DEFAULT_4XX' || problem.type === 'DEFAULT_5XX';
    const headers = { 'Content-Type': PROBLEM_CONTENT_TYPE, ...problem.headers };
    this.restApi.addGatewayResponse(pascalCase(problem.type), {
      type: apigateway.ResponseType.of(problem.type),
      statusCode: keepsOwnStatus ? undefined : String(problem.status),
      responseHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, `'${v}'`])),
      templates: { 'application/json': gatewayProblemBody(problem) },
    });
  }

  /** The readiness probe checks the table and the state machine exist and are reachable, nothing more. */
  private grantReadiness(stateMachine: sfn.StateMachine): void {
    const fn = this.handler('health-ready').function;
    fn.addEnvironment(ENV.stateMachineArn, stateMachine.stateMachineArn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeStateMachine'],
        resources: [stateMachine.stateMachineArn],
      }),
    );
  }

  private acknowledgeFindings(): void {
    const acknowledgements: [string, string][] = [
      [
        'AwsSolutions-APIG2',
        'Handlers validate every body, query and path with zod and answer problem+json with errors[]; an API Gateway validator would answer first in a different shape.',
      ],
      [
        'AwsSolutions-APIG3',
        'WAF is a per-deployment choice with its own cost; stage throttling bounds abuse, and a web ACL can be associated without changing this stack.',
      ],
      [
        'AwsSolutions-APIG6',
        'Execution logging needs the account-wide API Gateway CloudWatch role, a regional singleton this stack must not own; access logs record every request and its gateway error.',
      ],
    ];
    for (const [id, reason] of acknowledgements) Validations.of(this.restApi).acknowledge({ id, reason });
  }
}

function reserve(fn: HandlerFunction, concurrency: number): void {
  (fn.function.node.defaultChild as CfnFunction).reservedConcurrentExecutions = concurrency;
}

/**
 * Routes without a key get their own, small per-method buckets: a flood of anonymous calls spends
 * those and cannot take the stage's rate from the tenants' routes. Per-tenant fairness on the
 * tenants' routes is the request-rate limiter behind the authorizer.
 */
function publicMethodThrottling(
  throttling: AgentJobsConfig['publicThrottling'],
): Record<string, apigateway.MethodDeploymentOptions> {
  const publicRoutes = API_ROUTES.filter((r) => !r.auth);
  return Object.fromEntries(
    publicRoutes.map((r) => [
      `${resourcePath(r)}/${r.method}`,
      { throttlingRateLimit: throttling.rateLimit, throttlingBurstLimit: throttling.burstLimit },
    ]),
  );
}

function pascalCase(name: string): string {
  return name
    .toLowerCase()
    .split(/[-_]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
