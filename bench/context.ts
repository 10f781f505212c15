import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LocalStack } from '../lambdas/local/stack.js';
import type { DynamoCounter } from './ddb-counter.js';

/** One benchmark's figures: flat dotted keys, so modules merge into one JSON object. */
export type Figures = Record<string, number>;

/** What every benchmark module gets from the orchestrator: one local stack shared by the whole run. */
export interface BenchContext {
  stack: LocalStack;
  /** The bench tenant's API key. */
  apiKey: string;
  /** The in-process handlers' module-level DynamoDB client, and the count of its requests. */
  dynamo: DynamoDBClient;
  counter: DynamoCounter;
  quick: boolean;
  log(...message: unknown[]): void;
}
