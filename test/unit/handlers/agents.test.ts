import { describe, expect, it } from 'vitest';
import '../support/handler-env.js';
import { apiEvent, bodyOf, lambdaContext } from '../support/fixtures.js';

const list = (await import('../../../lambdas/handlers/list-agents.js')).handler;
const get = (await import('../../../lambdas/handlers/get-agent.js')).handler;

describe('GET /v1/agents without a model provider', () => {
  it('lists every agent with its version and input JSON Schema; the assistant is unavailable, saying why', async () => {
    const res = await list(apiEvent({ path: '/v1/agents' }), lambdaContext);
    expect(res.statusCode).toBe(200);
    const items = bodyOf(res).items as Record<string, unknown>[];
    expect(items.map((a) => a.name)).toEqual(['echo', 'assistant']);
    expect(items[0]).toMatchObject({
      name: 'echo',
      version: '1.0.0',
      available: true,
      inputSchema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        required: ['message'],
      },
    });
    expect(items[0]).not.toHaveProperty('unavailableReason');
    expect(items[1]).toMatchObject({
      name: 'assistant',
      version: '1.0.0',
      available: false,
      unavailableReason: 'no model provider is configured',
      inputSchema: { type: 'object', properties: { prompt: { type: 'string' } } },
    });
  });

  it('GET /v1/agents/{name}: one agent, 404 not_found for a name no agent has', async () => {
    const one = await get(
      apiEvent({ path: '/v1/agents/echo', pathParameters: { name: 'echo' } }),
      lambdaContext,
    );
    expect(one.statusCode).toBe(200);
    expect(bodyOf(one)).toMatchObject({ name: 'echo', available: true });
    const none = await get(
      apiEvent({ path: '/v1/agents/nope', pathParameters: { name: 'nope' } }),
      lambdaContext,
    );
    expect(none.statusCode).toBe(404);
    expect(bodyOf(none).code).toBe('not_found');
  });
});
