import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';

/**
 * The messages of a Server-Sent Events body, parsed by eventsource-parser. `onRetry` gets the
 * server's `retry:` advice. Leaving the loop early releases the connection.
 */
export async function* sseMessages(
  body: ReadableStream<Uint8Array>,
  onRetry: (ms: number) => void,
): AsyncGenerator<EventSourceMessage> {
  // The DOM typings declare TextDecoderStream's input as any BufferSource, which bytes are.
  const decoder = new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>;
  const reader = body.pipeThrough(decoder).pipeThrough(new EventSourceParserStream({ onRetry })).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
