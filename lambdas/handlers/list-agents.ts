import { agentView } from '../agents/agent-view.js';
import { allAgentDescriptors } from '../agents/catalog.js';
import { httpHandler } from './http/middleware.js';
import { json } from './http/response.js';

/** The agents this deployment runs, with their versions, input schemas and availability. */
export const handler = httpHandler(async () => json(200, { items: allAgentDescriptors().map(agentView) }));
