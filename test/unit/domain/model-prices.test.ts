import { describe, expect, it } from 'vitest';
import { costUsd } from '../../../lambdas/domain/model-prices.js';

describe('costUsd', () => {
  it('prices a known model at its list price per million tokens', () => {
    expect(costUsd('gpt-4o', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(12.5);
    expect(
      costUsd('anthropic.claude-sonnet-4-20250514-v1:0', { inputTokens: 2_000, outputTokens: 500 }),
    ).toBe(0.0135);
  });

  it('prices a Bedrock inference profile as its foundation model and a dated snapshot as its family', () => {
    const usage = { inputTokens: 10_000, outputTokens: 1_000 };
    expect(costUsd('us.amazon.nova-lite-v1:0', usage)).toBe(costUsd('amazon.nova-lite-v1:0', usage));
    expect(costUsd('global.anthropic.claude-sonnet-4-20250514-v1:0', usage)).toBe(0.045);
    expect(costUsd('gpt-4o-mini-2024-07-18', usage)).toBe(0.0021);
  });

  it('is null for a model without a price, and rounds to the millionth', () => {
    expect(costUsd('llama3.2:3b', { inputTokens: 5, outputTokens: 5 })).toBeNull();
    expect(costUsd('amazon.nova-micro-v1:0', { inputTokens: 1, outputTokens: 1 })).toBe(0);
    expect(costUsd('amazon.nova-micro-v1:0', { inputTokens: 100, outputTokens: 100 })).toBe(0.000018);
  });
});
