import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { withoutSdkLogging } from '../../../lambdas/adapters/sdk-clients.js';

const names = (client: DynamoDBClient) => client.middlewareStack.identify().map((m) => m.split(' ')[0]);

describe('withoutSdkLogging', () => {
  it('removes only the logger middleware', () => {
    const plain = new DynamoDBClient({ region: 'eu-west-1' });
    const quiet = withoutSdkLogging(new DynamoDBClient({ region: 'eu-west-1' }));
    expect(names(plain)).toContain('loggerMiddleware');
    expect(names(quiet)).toEqual(names(plain).filter((n) => n !== 'loggerMiddleware'));
  });

  it('is applied to the job store client every handler shares', async () => {
    const { dynamoClient } = await import('../../../lambdas/adapters/dynamo-job-store.js');
    expect(names(dynamoClient)).not.toContain('loggerMiddleware');
  });
});
