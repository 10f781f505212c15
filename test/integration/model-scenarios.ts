import type { ReceivedRequest, ScriptedAnswer, ScriptedReply } from '../fixtures/scripted-model-server.js';

/**
 * What the scripted model does for the integration tests, chosen by a tag at the start of the
 * job's prompt (`[plain] ...`). The stack's provider points at one scripted server for every test
 * file, so each behaviour is keyed by the prompt, and a prompt carries a nonce when a scenario
 * counts the requests it has seen.
 */

export const MODEL_TEXT = ['Hello', ' from', ' the', ' scripted', ' model.'];
export const STREAMED_WORDS = Array.from({ length: 40 }, (_, i) => `word${i} `);
export const USAGE = { prompt_tokens: 11, completion_tokens: 7 };
/** A 1 MiB answer, streamed in 16 KiB chunks. */
export const BIG_OUTPUT = Array.from({ length: 64 }, (_, i) => String(i % 10).repeat(16 * 1024));
/** Bytes of padding in the arguments of the large tool call scenarios. */
export const BIG_ARGUMENTS_BYTES = 300_000;
export const CLIENT_NOTES = 'n'.repeat(30_000);
/** What the broken stream scenario streams before its connection drops, and what its retry answers. */
export const BROKEN_ATTEMPT = ['Half ', 'an ', 'answer ', 'that ', 'never ', 'ends'];
export const WHOLE_ANSWER = ['The ', 'answer ', 'of ', 'the ', 'retry.'];
/** The Retry-After the throttling scenario sends, in seconds. */
export const THROTTLE_RETRY_AFTER = 2;

interface ChatMessage {
  role: string;
  content?: string | null;
}

const messagesOf = (request: ReceivedRequest) => (request.body?.messages ?? []) as ChatMessage[];
const toolResults = (request: ReceivedRequest) => messagesOf(request).filter((m) => m.role === 'tool');
const promptOf = (request: ReceivedRequest) =>
  messagesOf(request).find((m) => m.role === 'user')?.content ?? '';

const answer = (text: string[], extra: Partial<ScriptedAnswer> = {}): ScriptedAnswer => ({
  kind: 'answer',
  text,
  usage: USAGE,
  ...extra,
});

/** Requests seen per prompt, for scenarios that change their reply with repetition. */
const seen = new Map<string, number>();

export function modelScenario(request: ReceivedRequest): ScriptedReply {
  const prompt = promptOf(request);
  const count = (seen.get(prompt) ?? 0) + 1;
  seen.set(prompt, count);
  const tag = /^\[([\w-]+)(?: (\S+))?\]/.exec(prompt);
  const results = toolResults(request);
  switch (tag?.[1]) {
    case 'plain':
      return answer(MODEL_TEXT);
    case 'stream':
      return answer(STREAMED_WORDS, { chunkDelayMs: 25 });
    case 'fetch':
      if (results.length === 0) {
        return answer([], {
          toolCalls: [{ id: 'call_fetch_1', name: 'fetch_url', arguments: { url: tag[2] } }],
        });
      }
      return answer([`The page said: ${results[0]!.content}`]);
    case 'client':
      if (results.length === 0) {
        return answer(['Let me check.'], {
          toolCalls: [{ id: 'call_weather_1', name: 'get_weather', arguments: { city: 'Paris' } }],
          finishReason: 'stop',
        });
      }
      return answer([`The weather tool said ${results[0]!.content}`]);
    case 'big':
      return answer(BIG_OUTPUT);
    case 'bigargs':
      if (results.length === 0) {
        const note = 'a'.repeat(BIG_ARGUMENTS_BYTES);
        return answer([], {
          toolCalls: [{ id: 'call_big_1', name: 'fetch_url', arguments: { url: tag[2], note } }],
          argumentsChunkChars: 16 * 1024,
        });
      }
      return answer(['Done with the big call.']);
    case 'client-big':
      if (results.length === 0) {
        return answer([], {
          toolCalls: [
            {
              id: 'call_big_weather',
              name: 'get_weather',
              arguments: { city: 'Paris', notes: CLIENT_NOTES },
            },
          ],
          argumentsChunkChars: 4096,
        });
      }
      return answer([`The weather tool said ${results[0]!.content}`]);
    case 'broken':
      // The first attempt streams long enough for its deltas to be written, then the connection drops.
      if (count === 1) return answer(BROKEN_ATTEMPT, { chunkDelayMs: 120, dropAfterChunks: 5 });
      return answer(WHOLE_ANSWER, { chunkDelayMs: 60 });
    case 'redrive':
      // Attempt 1: a tool call, then a refusal that fails the job. Attempt 2 (redriven): the same, answered.
      if (count === 2) return { kind: 'error', status: 400 };
      if (results.length === 0) {
        return answer([], {
          toolCalls: [{ id: `call_fetch_${count}`, name: 'fetch_url', arguments: { url: tag[2] } }],
        });
      }
      return answer(['Fetched.']);
    case 'throttled':
      if (count === 1) {
        return { kind: 'error', status: 429, headers: { 'retry-after': String(THROTTLE_RETRY_AFTER) } };
      }
      return answer(MODEL_TEXT);
    case 'down':
      return { kind: 'error', status: 503 };
    case 'refused':
      return { kind: 'error', status: 400 };
    default:
      return { kind: 'error', status: 400, body: { error: { message: `no scenario for ${prompt}` } } };
  }
}
