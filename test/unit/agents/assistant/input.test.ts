import { describe, expect, it } from 'vitest';
import { agentView } from '../../../../lambdas/agents/agent-view.js';
import { assistantDescriptor } from '../../../../lambdas/agents/assistant/descriptor.js';
import { assistantInputSchema } from '../../../../lambdas/agents/assistant/input.js';

const issues = (value: unknown) => {
  const parsed = assistantInputSchema.safeParse(value);
  expect(parsed.success).toBe(false);
  return parsed.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

describe('assistantInputSchema', () => {
  it('accepts a prompt with defaults filled in', () => {
    expect(assistantInputSchema.parse({ prompt: 'hi' })).toEqual({ prompt: 'hi', maxSteps: 20 });
  });

  it('accepts the whole contract shape', () => {
    const input = {
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: 'u' },
        { role: 'assistant', content: 'a' },
      ],
      instructions: 'be kind',
      model: 'gpt-4o-mini',
      tools: [
        {
          name: 'get_weather',
          description: 'd',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      serverTools: ['fetch_url'],
      maxSteps: 100,
      maxOutputTokens: 1024,
      temperature: 2,
    };
    expect(assistantInputSchema.parse(input)).toEqual(input);
  });

  it('wants exactly one of prompt and messages', () => {
    const message = 'exactly one of prompt and messages is required';
    expect(issues({})).toContainEqual({ path: '', message });
    expect(issues({ prompt: 'a', messages: [{ role: 'user', content: 'b' }] })).toContainEqual({
      path: '',
      message,
    });
  });

  it.each([
    [{ prompt: 'a', maxSteps: 0 }, 'maxSteps'],
    [{ prompt: 'a', maxSteps: 101 }, 'maxSteps'],
    [{ prompt: 'a', maxSteps: 2.5 }, 'maxSteps'],
    [{ prompt: 'a', temperature: 2.1 }, 'temperature'],
    [{ prompt: 'a', temperature: -0.1 }, 'temperature'],
    [{ prompt: 'a', maxOutputTokens: 0 }, 'maxOutputTokens'],
    [{ prompt: 'a', serverTools: ['run_shell'] }, 'serverTools.0'],
    [{ prompt: 'a', tools: [{ name: 'has space', parameters: { type: 'object' } }] }, 'tools.0.name'],
    [{ prompt: 'a', tools: [{ name: 't', parameters: { type: 'string' } }] }, 'tools.0.parameters.type'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.role'],
    [{ prompt: 'a', extra: true }, ''],
  ])('refuses %j at %s', (value, path) => {
    expect(issues(value).map((i) => i.path)).toContain(path);
  });

  it('refuses a tool name used twice, across client and server tools', () => {
    expect(
      issues({
        prompt: 'a',
        serverTools: ['fetch_url'],
        tools: [{ name: 'fetch_url', parameters: { type: 'object' } }],
      }),
    ).toEqual([{ path: 'tools', message: 'tool name fetch_url is used more than once' }]);
  });
});

describe("the assistant's published input schema", () => {
  it('is draft 2020-12 JSON Schema of the client-facing input, with the prompt/messages choice', () => {
    const schema = agentView(assistantDescriptor(() => undefined)).inputSchema as Record<string, unknown> & {
      properties: Record<string, unknown>;
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(
      [
        'instructions',
        'maxOutputTokens',
        'maxSteps',
        'messages',
        'model',
        'prompt',
        'serverTools',
        'temperature',
        'tools',
      ].sort(),
    );
    expect(schema.properties.maxSteps).toEqual({ default: 20, type: 'integer', minimum: 1, maximum: 100 });
    expect(schema.properties.serverTools).toEqual({
      type: 'array',
      items: { type: 'string', enum: ['fetch_url'] },
    });
    expect(schema.oneOf).toEqual([{ required: ['prompt'] }, { required: ['messages'] }]);
    expect(schema.required).toBeUndefined();
  });
});
