import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeltaBatcher } from '../../../../lambdas/agents/assistant/delta-batcher.js';
import { retryWaitSeconds } from '../../../../lambdas/agents/assistant/retry.js';
import type { StepEvent } from '../../../../lambdas/domain/job-events.js';

afterEach(() => vi.useRealTimers());

function recorder(delayMs = 0) {
  const writes: StepEvent[][] = [];
  const send = async (events: readonly StepEvent[]) => {
    writes.push([...events]);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return true;
  };
  const texts = () =>
    writes
      .flat()
      .filter((e) => e.type === 'job.output.delta')
      .map((e) => (e.data as { text: string }).text);
  return { writes, send, texts };
}

describe('DeltaBatcher', () => {
  it('folds chunks into one event per batch, in order, and the texts join to the whole text', async () => {
    vi.useFakeTimers();
    const { writes, send, texts } = recorder();
    const batcher = new DeltaBatcher(3, send, { chars: 10, ms: 200 });
    for (const chunk of ['ab', 'cd', 'ef']) batcher.push(chunk);
    expect(writes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(writes).toEqual([[{ type: 'job.output.delta', data: { step: 3, text: 'abcdef' } }]]);
    batcher.push('0123456789xyz');
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toHaveLength(2);
    batcher.push('tail');
    const toolCall: StepEvent = {
      type: 'job.tool_call',
      data: { step: 3, id: 'c1', name: 't', arguments: {} },
    };
    // The rest is handed back for the step's own write, not written.
    expect(await batcher.finish([toolCall])).toEqual([
      { type: 'job.output.delta', data: { step: 3, text: 'tail' } },
      toolCall,
    ]);
    expect(writes).toHaveLength(2);
    expect(texts().join('')).toBe('abcdef0123456789xyz');
    expect(await new DeltaBatcher(3, send).finish()).toEqual([]);
  });

  it('keeps one write in flight: text arriving meanwhile joins the next batch', async () => {
    const { writes, send, texts } = recorder(30);
    const batcher = new DeltaBatcher(1, send, { chars: 3, ms: 5 });
    for (let i = 0; i < 20; i++) {
      batcher.push(`${i},`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const rest = await batcher.finish();
    const restText = rest.map((e) => (e.data as { text: string }).text).join('');
    expect(texts().join('') + restText).toBe(Array.from({ length: 20 }, (_, i) => `${i},`).join(''));
    expect(writes.length).toBeLessThan(20);
  });

  it('says whether any of its text went out, so a broken call knows the log holds some', async () => {
    vi.useFakeTimers();
    const { send } = recorder();
    const batcher = new DeltaBatcher(1, send, { chars: 10, ms: 200 });
    batcher.push('abc');
    expect(batcher.wrote).toBe(false);
    await batcher.discard();
    expect(batcher.wrote).toBe(false);
    const sent = new DeltaBatcher(1, send, { chars: 10, ms: 200 });
    sent.push('abc');
    await vi.advanceTimersByTimeAsync(200);
    await sent.discard();
    expect(sent.wrote).toBe(true);
  });

  it('reports a failed write at finish; discard drops unsent text', async () => {
    const failing = new DeltaBatcher(1, () => Promise.reject(new Error('write failed')), { chars: 1, ms: 5 });
    failing.push('x');
    await expect(failing.finish()).rejects.toThrow('write failed');
    const { writes, send } = recorder();
    const dropped = new DeltaBatcher(1, send, { chars: 100, ms: 1000 });
    dropped.push('lost');
    await dropped.discard();
    expect(writes).toEqual([]);
  });
});

describe('retryWaitSeconds', () => {
  it('is never sooner than Retry-After, and full jitter within a doubling, capped ceiling', () => {
    expect(retryWaitSeconds(1, 7, () => 0.99)).toBe(7);
    expect(retryWaitSeconds(1, undefined, () => 0)).toBe(0);
    expect(retryWaitSeconds(3, undefined, () => 1)).toBe(4);
    expect(retryWaitSeconds(20, undefined, () => 1)).toBe(60);
    expect(retryWaitSeconds(3, 2, () => 1)).toBe(4);
  });
});
