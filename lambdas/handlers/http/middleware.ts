import { createLogger } from '../../config/logger.js';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { problemFromError } from './problem.js';
import { rateLimit } from './rate-limit.js';

export const logger = createLogger();

type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * Every API handler is wrapped the same way: lower-cased headers, structured logs with the
 * request id, and errors turned into problem+json at the edge (unexpected ones logged as errors).
 * The tenant's request rate is checked before the problem mapper is added, so the mapper's
 * onError runs first and the limiter then adds the RateLimit fields to problems too.
 * `rateLimitInHandler`: the handler admits the request in its own write (see rateLimit).
 */
export function httpHandler(fn: ApiHandler, options: { rateLimitInHandler?: boolean } = {}) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpHeaderNormalizer())
    .use(rateLimit(undefined, undefined, { inHandler: options.rateLimitInHandler }))
    .use({
      onError: async (request) => {
        const { response, unexpected } = problemFromError(request.error);
        if (unexpected) logger.error('request failed', { error: request.error as Error });
        request.response = response;
      },
    })
    .handler(fn);
}
