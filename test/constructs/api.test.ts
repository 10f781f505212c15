import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { GATEWAY_PROBLEMS, gatewayProblemBody } from '../../lambdas/config/gateway-responses.js';
import { API_ROUTES } from '../../lambdas/config/routes.js';
import { resourcePath } from '../../lib/constructs/api.js';
import { logicalId, synth } from './support.js';

const { stack, json, template } = synth();

function resourcesOfType(type: string) {
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}

/** Full path of an AWS::ApiGateway::Resource, rebuilt from its parent chain. */
function pathOf(resourceId: string): string {
  const r = json.Resources[resourceId];
  if (!r) return '';
  const parent = r.Properties.ParentId as { Ref?: string };
  return `${parent.Ref ? pathOf(parent.Ref) : ''}/${r.Properties.PathPart}`;
}

function methodFor(route: (typeof API_ROUTES)[number]) {
  const methods = resourcesOfType('AWS::ApiGateway::Method').filter(([, m]) => {
    const resourceRef = (m.Properties.ResourceId as { Ref?: string }).Ref;
    return (
      m.Properties.HttpMethod === route.method &&
      resourceRef !== undefined &&
      pathOf(resourceRef) === resourcePath(route)
    );
  });
  expect(methods, `${route.method} ${route.path}`).toHaveLength(1);
  return methods[0]![1].Properties;
}

describe('REST API', () => {
  it('serves every route under the v1 stage with the /v1 prefix stripped from resources', () => {
    expect(resourcePath({ method: 'GET', path: '/v1/jobs/{id}', handler: 'get-job', auth: true })).toBe(
      '/jobs/{id}',
    );
    template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'v1' });
    for (const route of API_ROUTES) methodFor(route);
    expect(resourcesOfType('AWS::ApiGateway::Method')).toHaveLength(API_ROUTES.length);
  });

  it('integrates each route with its handler as a Lambda proxy', () => {
    for (const route of API_ROUTES) {
      const fnId = logicalId(stack.api.handler(route.handler).function);
      expect(JSON.stringify(methodFor(route).Integration)).toContain(`"${fnId}","Arn"`);
      expect(methodFor(route).Integration).toMatchObject({
        Type: 'AWS_PROXY',
        IntegrationHttpMethod: 'POST',
      });
    }
  });

  it('streams the SSE route through the response-streaming invocation, for up to the function timeout', () => {
    const streamed = API_ROUTES.filter((r) => r.streaming);
    expect(streamed.map((r) => r.handler)).toEqual(['follow-events']);
    for (const route of API_ROUTES) {
      const integration = methodFor(route).Integration as Record<string, unknown>;
      if (route.streaming) {
        expect(integration).toMatchObject({ ResponseTransferMode: 'STREAM', TimeoutInMillis: 900_000 });
        expect(JSON.stringify(integration.Uri)).toContain('/response-streaming-invocations');
      } else {
        expect(integration.ResponseTransferMode).toBeUndefined();
        expect(integration.TimeoutInMillis).toBeUndefined();
      }
    }
  });

  it('gives handlers that hold requests a timeout that fits their longest hold, inside the gateway limits', () => {
    const timeoutOf = (handler: string) =>
      json.Resources[logicalId(stack.api.handler(handler).function)]!.Properties.Timeout;
    // Prefer: wait holds up to 20 s, inside API Gateway's 29 s integration timeout.
    expect(timeoutOf('create-job')).toBe(25);
    expect(timeoutOf('get-job')).toBe(25);
    expect(timeoutOf('follow-events')).toBe(900);
    expect(timeoutOf('list-events')).toBe(10);
    const env = json.Resources[logicalId(stack.api.handler('follow-events').function)]!.Properties
      .Environment as { Variables: Record<string, string> };
    // The stream ends cleanly a minute before Lambda would cut it off.
    expect(env.Variables.STREAM_MAX_SECONDS).toBe('840');
  });

  it('puts the authorizer on every auth:true route and on no public one', () => {
    const authorizerId = logicalId(stack.api.authorizer);
    for (const route of API_ROUTES) {
      const method = methodFor(route);
      if (route.auth) {
        expect(method).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
      } else {
        expect(method.AuthorizationType).toBe('NONE');
        expect(method.AuthorizerId).toBeUndefined();
      }
    }
  });

  it('uses an uncached REQUEST authorizer with no identity source, so x-api-key alone still reaches it', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 0,
      AuthorizerUri: {
        'Fn::Join': [
          '',
          Match.arrayWith([{ 'Fn::GetAtt': [logicalId(stack.api.handler('authorizer').function), 'Arn'] }]),
        ],
      },
    });
    const [, authorizer] = resourcesOfType('AWS::ApiGateway::Authorizer')[0]!;
    expect(authorizer.Properties.IdentitySource ?? '').toBe('');
  });

  it('throttles, traces, records metrics and writes JSON access logs at the stage', () => {
    const [, stage] = resourcesOfType('AWS::ApiGateway::Stage')[0]!;
    expect(stage.Properties).toMatchObject({
      TracingEnabled: true,
      MethodSettings: expect.arrayContaining([
        expect.objectContaining({
          HttpMethod: '*',
          ResourcePath: '/*',
          MetricsEnabled: true,
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
        }),
      ]),
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [logicalId(stack.api.accessLogs), 'Arn'] } },
    });
    const format = JSON.parse((stage.Properties.AccessLogSetting as { Format: string }).Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      method: '$context.httpMethod',
      path: '$context.path',
      status: '$context.status',
      latency: '$context.responseLatency',
      tenant: '$context.authorizer.tenant',
    });
  });

  it('throttles each route without a key in its own small bucket, and no tenant route', () => {
    const [, stage] = resourcesOfType('AWS::ApiGateway::Stage')[0]!;
    const settings = stage.Properties.MethodSettings as Record<string, unknown>[];
    const overrides = settings.filter((m) => m.ResourcePath !== '/*');
    const publicRoutes = API_ROUTES.filter((r) => !r.auth);
    expect(publicRoutes.length).toBeGreaterThan(0);
    expect(overrides.map((m) => `${String(m.HttpMethod)} ${String(m.ResourcePath)}`).sort()).toEqual(
      // CloudFormation's method paths are `/` plus the resource path with its slashes escaped as ~1.
      publicRoutes.map((r) => `${r.method} /${resourcePath(r).replaceAll('/', '~1')}`).sort(),
    );
    for (const m of overrides) expect(m).toMatchObject({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
  });

  it('has no binary media types and no API Gateway request models', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: Match.absent() });
    template.resourceCountIs('AWS::ApiGateway::Model', 0);
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 0);
  });

  it.each(GATEWAY_PROBLEMS.map((p) => [p.type, p] as const))(
    'answers %s with problem+json',
    (_type, problem) => {
      const keepsStatus = problem.type === 'DEFAULT_4XX' || problem.type === 'DEFAULT_5XX';
      const headers = Object.fromEntries(
        Object.entries({ 'Content-Type': 'application/problem+json', ...problem.headers }).map(([k, v]) => [
          `gatewayresponse.header.${k}`,
          `'${v}'`,
        ]),
      );
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: problem.type,
        StatusCode: keepsStatus ? Match.absent() : String(problem.status),
        ResponseParameters: headers,
        ResponseTemplates: { 'application/json': gatewayProblemBody(problem) },
      });
    },
  );
});
