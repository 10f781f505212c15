import { createHash } from 'node:crypto';
import type { APIGatewayProxyResult } from 'aws-lambda';

/** A strong validator: any change to the representation's bytes changes the tag. */
export function entityTag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

/**
 * RFC 9110 13.1.2: If-None-Match compares weakly (a `W/` prefix is ignored) and `*` matches any
 * current representation. Tags we issue hold no commas, so splitting the list on them is safe.
 */
function ifNoneMatchHits(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const value = candidate.trim();
    return value === '*' || value.replace(/^W\//, '') === tag;
  });
}

/**
 * Gives a 200 answer its ETag, or turns it into `304 Not Modified` (no body, same validators and
 * Retry-After) when the client already holds that representation: a poll that finds nothing new
 * costs the client no body to download and parse.
 */
export function conditionalResponse(
  response: APIGatewayProxyResult,
  ifNoneMatch: string | undefined,
): APIGatewayProxyResult {
  const tag = entityTag(response.body);
  const headers: Record<string, boolean | number | string> = { ...response.headers, ETag: tag };
  if (response.statusCode !== 200 || !ifNoneMatchHits(ifNoneMatch, tag)) return { ...response, headers };
  const { 'Content-Type': _contentType, ...notModified } = headers;
  return { statusCode: 304, headers: notModified, body: '' };
}
