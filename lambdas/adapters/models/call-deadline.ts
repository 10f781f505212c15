import { ModelUnavailableError } from '../../domain/model-errors.js';
import type { CallLimits } from './model-provider.js';
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from './model-provider.js';

type Expiry = 'timeout' | 'idle_timeout';

/**
 * The two clocks of a streamed call: a bound on the whole call and a bound on silence between
 * chunks (a stalled stream otherwise holds the step until its own timeout). `signal` aborts when
 * either runs out or the caller aborts; `race` makes any await give up at that moment, even on a
 * transport that ignores the signal.
 */
export class CallDeadline {
  private readonly controller = new AbortController();
  private readonly callTimer: NodeJS.Timeout;
  private idleTimer: NodeJS.Timeout | undefined;
  private expired: Expiry | undefined;
  private readonly idleTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly onCallerAbort = () => this.controller.abort(this.caller?.reason);

  constructor(
    private readonly caller: AbortSignal | undefined,
    limits: CallLimits,
  ) {
    this.callTimeoutMs = limits.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.idleTimeoutMs = limits.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    // Unref'd: the request itself keeps the process alive; a forgotten call's clocks must not.
    this.callTimer = setTimeout(() => this.expire('timeout'), this.callTimeoutMs).unref();
    if (caller?.aborted) this.onCallerAbort();
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** A chunk arrived: the idle clock starts over. */
  touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.expire('idle_timeout'), this.idleTimeoutMs).unref();
  }

  dispose(): void {
    clearTimeout(this.callTimer);
    clearTimeout(this.idleTimer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }

  /** Settles with `promise`, or rejects the moment the call must end. */
  race<T>(promise: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(this.failure(signal.reason));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.failure(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(this.failure(error));
        },
      );
    });
  }

  /**
   * What the caller should see for an error met during the call: the caller's own abort reason when
   * it aborted, a transient timeout when a clock ran out (the transport's abort error says neither),
   * else undefined: the error is the transport's own and the adapter classifies it.
   */
  abortError(): unknown {
    if (this.caller?.aborted) return this.caller.reason;
    if (this.expired === 'timeout') {
      return new ModelUnavailableError('timeout', `the model call took longer than ${this.callTimeoutMs} ms`);
    }
    if (this.expired === 'idle_timeout') {
      return new ModelUnavailableError(
        'idle_timeout',
        `the model sent nothing for ${this.idleTimeoutMs} ms while answering`,
      );
    }
    return undefined;
  }

  private failure(error: unknown): unknown {
    return this.abortError() ?? error;
  }

  private expire(kind: Expiry): void {
    if (this.controller.signal.aborted) return;
    this.expired = kind;
    this.controller.abort(this.abortError());
  }
}
