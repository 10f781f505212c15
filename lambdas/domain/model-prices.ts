import type { TokenUsage } from './model.js';
import { foundationModelId } from './model.js';

/**
 * List prices in US dollars per million tokens, on-demand and standard tier, before any discount,
 * prompt caching or batch pricing; Bedrock prices are those of us-east-1. Taken from the providers'
 * public pricing pages (openai.com/api/pricing, aws.amazon.com/bedrock/pricing) as published in
 * March 2026. A job's `costUsd` is an estimate from these figures, not an invoice: check the pages
 * before relying on it, and add a model here to have its jobs priced.
 */
export const PRICES_AS_OF = '2026-03';

interface Price {
  inputPerMillion: number;
  outputPerMillion: number;
}

const PRICES: Readonly<Record<string, Price>> = {
  // OpenAI
  'gpt-5': { inputPerMillion: 1.25, outputPerMillion: 10 },
  'gpt-5-mini': { inputPerMillion: 0.25, outputPerMillion: 2 },
  'gpt-5-nano': { inputPerMillion: 0.05, outputPerMillion: 0.4 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  o3: { inputPerMillion: 2, outputPerMillion: 8 },
  // Amazon Bedrock
  'anthropic.claude-sonnet-4-20250514-v1:0': { inputPerMillion: 3, outputPerMillion: 15 },
  'anthropic.claude-3-7-sonnet-20250219-v1:0': { inputPerMillion: 3, outputPerMillion: 15 },
  'anthropic.claude-3-5-haiku-20241022-v1:0': { inputPerMillion: 0.8, outputPerMillion: 4 },
  'amazon.nova-pro-v1:0': { inputPerMillion: 0.8, outputPerMillion: 3.2 },
  'amazon.nova-lite-v1:0': { inputPerMillion: 0.06, outputPerMillion: 0.24 },
  'amazon.nova-micro-v1:0': { inputPerMillion: 0.035, outputPerMillion: 0.14 },
  'meta.llama3-3-70b-instruct-v1:0': { inputPerMillion: 0.72, outputPerMillion: 0.72 },
};

/**
 * The price of a model id as providers spell it: a Bedrock inference profile (`us.amazon.nova-…`)
 * is priced as its foundation model, a dated OpenAI snapshot (`gpt-4o-2024-08-06`) as its family.
 */
function priceOf(model: string): Price | undefined {
  const id = foundationModelId(model);
  return PRICES[id] ?? PRICES[id.replace(/-\d{4}-\d{2}-\d{2}$/, '')];
}

/** The list-price cost of some usage in dollars (to the millionth), or null for a model not in the table. */
export function costUsd(model: string, usage: TokenUsage): number | null {
  const price = priceOf(model);
  if (!price) return null;
  const dollars =
    (usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) / 1e6;
  return Math.round(dollars * 1e6) / 1e6;
}

/**
 * The list-price cost of some usage in whole billionths of a dollar, or null for a model not in the
 * table: integers add up without float drift, however many calls a day's usage counter sums.
 */
export function costNanoUsd(model: string, usage: TokenUsage): number | null {
  const price = priceOf(model);
  if (!price) return null;
  return Math.round(
    (usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) * 1e3,
  );
}
