import type { APIGatewayProxyEvent } from 'aws-lambda';
import { agentView } from '../agents/agent-view.js';
import { findAgentDescriptor } from '../agents/catalog.js';
import { NotFoundError } from '../domain/errors.js';
import { httpHandler } from './http/middleware.js';
import { json } from './http/response.js';

/** One agent, by name; an agent this deployment does not run is a 404. */
export const handler = httpHandler(async (event: APIGatewayProxyEvent) => {
  const agent = findAgentDescriptor(event.pathParameters?.name ?? '');
  if (!agent) throw new NotFoundError('agent');
  return json(200, agentView(agent));
});
