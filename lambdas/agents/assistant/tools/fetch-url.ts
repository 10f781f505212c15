import { TextDecoder } from 'node:util';
import * as z from 'zod';
import type { Deployment } from '../../../domain/webhook-url.js';
import { webhookUrlProblem } from '../../../domain/webhook-url.js';
import { SafeHttpClient } from '../../../adapters/safe-http.js';
import { defineServerTool, ToolError } from '../server-tool.js';

/** The text a page contributes to the conversation; the rest is cut. */
export const MAX_FETCH_TEXT_BYTES = 100 * 1024;
const FETCH_TIMEOUT_MS = 15_000;
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const FETCH_URL_USER_AGENT = 'agent-jobs-fetch-url/1';

/** Content types whose bytes are text a model can read; anything else comes back as no text. */
const TEXTUAL = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)\b)/i;

const clients = new Map<Deployment, SafeHttpClient>();
const clientFor = (deployment: Deployment) => {
  let client = clients.get(deployment);
  if (!client) clients.set(deployment, (client = new SafeHttpClient({ deployment })));
  return client;
};

/** The fragment is the reader's business, never sent; dropped so it does not count against the URL. */
function withoutFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}

/** Decodes in the page's charset when Node knows it, dropping a character cut in half at the limit. */
function decode(body: Buffer, contentType: string | undefined): string {
  const charset = /charset="?([\w-]+)/i.exec(contentType ?? '')?.[1];
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(body, { stream: true });
}

/**
 * Reads a web page for the model. Every hop, redirects included, obeys the webhook rules: the URL
 * check at request time and the address check at connect time, so a deployed stack never reaches
 * loopback, private, link-local or metadata addresses.
 */
export const fetchUrlTool = defineServerTool({
  name: 'fetch_url',
  description:
    'Fetches a web page or document with GET and returns its HTTP status, content type and text (at most 100 KB).',
  inputSchema: z.strictObject({
    url: z.string().min(1).max(2048).describe('The absolute http(s) URL to fetch.'),
  }),
  // Each hop is one request under its own timeout.
  maxDurationMs: (MAX_REDIRECTS + 1) * FETCH_TIMEOUT_MS,
  async run({ url }, { signal, deployment }) {
    let current = withoutFragment(url);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const problem = webhookUrlProblem(current, deployment);
      if (problem) throw new ToolError(`url not allowed: ${problem}`);
      const result = await clientFor(deployment).request({
        url: new URL(current),
        method: 'GET',
        headers: {
          accept: 'text/html, text/plain, application/json, */*;q=0.5',
          'user-agent': FETCH_URL_USER_AGENT,
        },
        timeoutMs: FETCH_TIMEOUT_MS,
        maxResponseBytes: MAX_FETCH_TEXT_BYTES,
        signal,
      });
      if (!result.answered) throw new ToolError(`fetch failed: ${result.error}`);
      const location = result.headers.location;
      if (REDIRECTS.has(result.status) && location) {
        current = withoutFragment(new URL(location, current).href);
        continue;
      }
      const contentType = result.headers['content-type'] ?? null;
      const text =
        contentType === null || TEXTUAL.test(contentType)
          ? decode(result.body, contentType ?? undefined)
          : '';
      return { status: result.status, contentType, text };
    }
    throw new ToolError(`fetch failed: more than ${MAX_REDIRECTS} redirects`);
  },
});
