/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts, mid-sleep included. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A signal that aborts when any of the given ones does, and a `dispose` that detaches it from them
 * (AbortSignal.any is missing from older browsers and the first Node 20 releases).
 */
export function linkSignals(...signals: Array<AbortSignal | undefined>): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const sources = signals.filter((s): s is AbortSignal => s !== undefined);
  const abort = (source: AbortSignal) => () => controller.abort(source.reason);
  const listeners = sources.map((source) => [source, abort(source)] as const);
  for (const [source, listener] of listeners) {
    if (source.aborted) controller.abort(source.reason);
    else source.addEventListener('abort', listener, { once: true });
  }
  return {
    signal: controller.signal,
    dispose: () => listeners.forEach(([source, listener]) => source.removeEventListener('abort', listener)),
  };
}

/** `Retry-After` (RFC 9110: delay-seconds or an HTTP-date) in milliseconds from now, if present. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
