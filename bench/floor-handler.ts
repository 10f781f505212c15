import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * The least a handler of this API can load: the DynamoDB client, created at module level as the
 * handlers create theirs. Its init time is the floor the cold-start ratios are measured against.
 */
const client = new DynamoDBClient({});

export const handler = async () => ({ statusCode: 200, body: await client.config.region() });
