import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.js';
import { CONFIG_CONTEXT_KEY, resolveConfig } from '../../lib/stack-config.js';
import { DEFAULT_CALL_TIMEOUT_MS } from '../../lambdas/adapters/models/model-provider.js';
import { assistantAgent } from '../../lambdas/agents/registry.js';
import { ENV } from '../../lambdas/config/env.js';
import { grantedActions, handlerFunctions, logicalId, roleStatements } from './support.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:model-key-AbCdEf';

function synthWith(modelProvider: unknown) {
  const { stack } = createApp({ skipBundling: true, context: { [CONFIG_CONTEXT_KEY]: { modelProvider } } });
  const json = Template.fromStack(stack).toJSON() as Parameters<typeof roleStatements>[0];
  const functions = handlerFunctions(stack);
  const role = (handler: string) => logicalId(functions.get(handler)!.role);
  const env = (handler: string) =>
    (
      json.Resources[logicalId(functions.get(handler)!.function)]!.Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
  const props = (handler: string) => json.Resources[logicalId(functions.get(handler)!.function)]!.Properties;
  return { json, role, env, props };
}

describe('model provider: Bedrock', () => {
  const { json, role, env } = synthWith({
    kind: 'bedrock',
    modelIds: ['anthropic.claude-3-5-haiku-20241022-v1:0', 'eu.amazon.nova-pro-v1:0'],
  });

  it('lets the agent step stream from exactly the configured models', () => {
    const invoke = roleStatements(json, role('agent-step')).filter((s) =>
      s.actions.includes('bedrock:InvokeModelWithResponseStream'),
    );
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0]!.resource)).toContain(
      'foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0',
    );
    expect(JSON.stringify(invoke[0]!.resource)).toContain('inference-profile/eu.amazon.nova-pro-v1:0');
    expect(JSON.stringify(invoke[0]!.resource)).toContain('foundation-model/amazon.nova-pro-v1:0');
    expect(JSON.stringify(invoke[0]!.resource)).not.toMatch(/foundation-model\/\*/);
    expect(grantedActions(json, role('agent-step'))).not.toContain('bedrock:GetFoundationModelAvailability');
  });

  it('lets only readiness ask for model availability, and no one else use Bedrock', () => {
    expect(grantedActions(json, role('health-ready'))).toContain('bedrock:GetFoundationModelAvailability');
    expect(grantedActions(json, role('health-ready'))).not.toContain('bedrock:InvokeModelWithResponseStream');
    for (const handler of ['create-job', 'list-agents', 'get-agent']) {
      expect(grantedActions(json, role(handler)).filter((a) => a.startsWith('bedrock:'))).toEqual([]);
    }
  });

  it('names the provider and default model to the functions that read them', () => {
    for (const handler of ['agent-step', 'health-ready', 'create-job', 'list-agents', 'get-agent']) {
      expect(env(handler)).toMatchObject({
        [ENV.modelProvider]: 'bedrock',
        [ENV.model]: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      });
    }
    expect(env('get-job')).not.toHaveProperty(ENV.model);
  });
});

describe('model provider: OpenAI-compatible', () => {
  const { json, role, env } = synthWith({
    kind: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    model: 'gpt-4o-mini',
    apiKeySecretArn: SECRET_ARN,
  });

  it('lets only the agent step and readiness read the API key secret, and only that secret', () => {
    for (const handler of ['agent-step', 'health-ready']) {
      const reads = roleStatements(json, role(handler)).filter((s) =>
        s.actions.includes('secretsmanager:GetSecretValue'),
      );
      expect(reads.map((s) => s.resource)).toEqual([SECRET_ARN]);
    }
    for (const handler of ['create-job', 'list-agents', 'get-agent']) {
      expect(grantedActions(json, role(handler))).not.toContain('secretsmanager:GetSecretValue');
    }
    expect(grantedActions(json, role('agent-step')).filter((a) => a.startsWith('bedrock:'))).toEqual([]);
  });

  it('passes the endpoint, model and secret ARN, never a key', () => {
    expect(env('agent-step')).toMatchObject({
      [ENV.modelProvider]: 'openai',
      [ENV.openaiBaseUrl]: 'https://api.openai.com/v1',
      [ENV.model]: 'gpt-4o-mini',
      [ENV.openaiApiKeySecretArn]: SECRET_ARN,
    });
    expect(env('agent-step')).not.toHaveProperty(ENV.openaiApiKey);
  });
});

describe('the agent step and a streamed model call', () => {
  it("lets the assistant's step, and the step function, outlast the longest model call", () => {
    const { props } = synthWith(undefined);
    expect(assistantAgent.stepTimeoutSeconds).toBeGreaterThan(DEFAULT_CALL_TIMEOUT_MS / 1000);
    expect(props('agent-step').Timeout).toBeGreaterThan(assistantAgent.stepTimeoutSeconds);
  });
});

describe('model provider configuration', () => {
  it('refuses a half-given provider with a sentence', () => {
    expect(() => resolveConfig({ modelProvider: { kind: 'bedrock', modelIds: [] } })).toThrow(/modelIds/);
    expect(() =>
      resolveConfig({ modelProvider: { kind: 'openai', baseUrl: 'http://x', model: 'm' } }),
    ).toThrow(/https/);
  });
});
