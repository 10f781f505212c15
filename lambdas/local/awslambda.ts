import type { Writable } from 'node:stream';
import type { StreamifyHandler } from 'aws-lambda';

/**
 * Stand-ins for the Lambda runtime's response-streaming globals, so streaming handlers load and run
 * unchanged in the local stack and in tests. `streamifyResponse` only marks the handler (the HTTP
 * adapter then calls it with a stream tied to the response); `HttpResponseStream.from` hands the
 * status and headers to the stream, which sends them before the first body byte.
 */
export const STREAMING = Symbol.for('agent-jobs.streaming-handler');

/** A response stream that can send a status line and headers before its body. */
export interface PreludeStream extends Writable {
  writePrelude(metadata: ResponseMetadata): void;
}

export interface ResponseMetadata {
  statusCode?: number;
  headers?: Record<string, string>;
}

const hasPrelude = (stream: Writable): stream is PreludeStream =>
  typeof (stream as Partial<PreludeStream>).writePrelude === 'function';

export function isStreamingHandler(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[STREAMING] === true;
}

const shim: Pick<typeof awslambda, 'streamifyResponse' | 'HttpResponseStream'> = {
  streamifyResponse(handler: StreamifyHandler) {
    return Object.assign(handler, { [STREAMING]: true });
  },
  HttpResponseStream: {
    from(stream: Writable, metadata: ResponseMetadata) {
      if (!hasPrelude(stream)) throw new Error('this response stream cannot carry a status and headers');
      stream.writePrelude(metadata);
      return stream;
    },
  },
} as unknown as typeof awslambda;

// The SDK's invoke store may have created the global already (with other members): add to it.
const runtime = globalThis as unknown as { awslambda?: Partial<typeof awslambda> };
const target = (runtime.awslambda ??= {});
target.streamifyResponse ??= shim.streamifyResponse;
target.HttpResponseStream ??= shim.HttpResponseStream;
