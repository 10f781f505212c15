import { httpHandler } from './http/middleware.js';
import { json } from './http/response.js';

export const handler = httpHandler(async () => json(200, { status: 'ok' }));
