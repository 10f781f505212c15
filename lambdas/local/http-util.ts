import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/**
 * Reads the whole body, giving up as soon as it passes `limit` bytes instead of buffering it all
 * (the rest stays unread: the connection cannot carry another request). Plain listeners rather
 * than `for await`: the stream's async iterator costs more than a small body's whole read.
 */
export function readBody(req: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  // RFC 9112 6.3: neither Content-Length nor Transfer-Encoding means no body, so no stream events
  // to wait for (polls are most requests). Node discards the empty stream once the response ends.
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))
    return Promise.resolve(Buffer.alloc(0));
  const declared = Number(length ?? 0);
  if (declared > limit)
    return Promise.reject(new BodyTooLargeError(`body of ${declared} bytes exceeds ${limit}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settle();
        req.pause();
        reject(new BodyTooLargeError(`body exceeds ${limit} bytes`));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      settle();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      settle();
      reject(e);
    };
    // A client that hangs up mid-body ends the stream with neither 'end' nor 'error'.
    const onClose = () => {
      settle();
      reject(new Error('the client closed the connection before the body ended'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
