/**
 * node:timers/promises is not covered by vi.useFakeTimers. Mocking it with this routes its
 * setTimeout through the global (faked) timer, abortable through an AbortSignal as the real one:
 *
 *   vi.mock('node:timers/promises', async (importOriginal) =>
 *     (await import('../support/timers-promises.js')).fakeable(await importOriginal()));
 */
export function fakeable<T extends object>(actual: T) {
  const setTimeout = <V>(ms?: number, value?: V, options?: { signal?: AbortSignal }) =>
    new Promise<V>((resolve, reject) => {
      const signal = options?.signal;
      const abort = () =>
        reject(
          Object.assign(new Error('The operation was aborted'), {
            name: 'AbortError',
            code: 'ABORT_ERR',
            cause: signal?.reason,
          }),
        );
      if (signal?.aborted) {
        abort();
        return;
      }
      const timer = globalThis.setTimeout(() => resolve(value as V), ms);
      signal?.addEventListener(
        'abort',
        () => {
          globalThis.clearTimeout(timer);
          abort();
        },
        { once: true },
      );
    });
  return { ...actual, default: { ...actual, setTimeout }, setTimeout };
}
