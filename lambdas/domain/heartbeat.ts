/**
 * Heartbeats of long agent steps. An agent signals liveness as often as it likes (every token of a
 * model stream, every tool call); each signal is a Step Functions API call with its own throttling
 * quota, so they are folded into at most one per interval.
 */

/** Beats a quarter of the heartbeat timeout apart: three may be lost or late before the task fails. */
export function heartbeatIntervalMs(heartbeatSeconds: number): number {
  return (heartbeatSeconds * 1000) / 4;
}

/**
 * Sends at most one beat per interval. The first signal after a quiet interval goes out at once;
 * signals inside an interval are folded into one sent when it ends, so the latest sign of life is
 * never dropped (a leading-edge-only throttle would lose it and let a live step time out).
 */
export class HeartbeatThrottle {
  private lastSentAt: number;
  private trailing: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  /** `sentAt`: when the caller last sent a beat itself (e.g. the one that opens the step). */
  constructor(
    private readonly intervalMs: number,
    private readonly send: () => void,
    sentAt = Number.NEGATIVE_INFINITY,
  ) {
    this.lastSentAt = sentAt;
  }

  beat(): void {
    if (this.stopped || this.trailing !== undefined) return;
    const wait = this.lastSentAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.trailing = setTimeout(() => {
      this.trailing = undefined;
      this.fire();
    }, wait);
  }

  /** No beat leaves after this, a pending trailing one included: the step is over. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.trailing);
    this.trailing = undefined;
  }

  private fire(): void {
    if (this.stopped) return;
    this.lastSentAt = Date.now();
    this.send();
  }
}
