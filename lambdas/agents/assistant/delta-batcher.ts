import type { StepEvent } from '../../domain/job-events.js';

/** A batch goes out once this much text waited, or once its first character waited this long. */
export const DELTA_BATCH_CHARS = 500;
export const DELTA_BATCH_MS = 200;

/**
 * Folds streamed model text into `job.output.delta` events, so an event write is paid per batch
 * rather than per token. One write is in flight at a time and batches go out in order; text that
 * arrives meanwhile joins the next batch. `finish` hands back what is left, with any events that
 * must follow the text (the answer's tool calls), for the step's own write to announce, and
 * reports a failed write.
 */
export class DeltaBatcher {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failure: unknown;
  private writes = 0;

  constructor(
    private readonly step: number,
    private readonly send: (events: readonly StepEvent[]) => Promise<unknown>,
    private readonly limits = { chars: DELTA_BATCH_CHARS, ms: DELTA_BATCH_MS },
  ) {}

  /** Whether any batch went out (or was attempted): the log may hold this call's text. */
  get wrote(): boolean {
    return this.writes > 0;
  }

  push(text: string): void {
    if (text === '') return;
    this.pending += text;
    if (this.pending.length >= this.limits.chars) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.limits.ms);
  }

  /** Waits for every write, then returns the unsent rest followed by `after`, in order. */
  async finish(after: readonly StepEvent[] = []): Promise<StepEvent[]> {
    this.stopTimer();
    while (this.inFlight) await this.inFlight;
    if (this.failure !== undefined) throw this.failure;
    return [...this.takePending(), ...after];
  }

  /** Drops unsent text: the call failed, and a retry streams its answer again. */
  async discard(): Promise<void> {
    this.stopTimer();
    this.pending = '';
    while (this.inFlight) await this.inFlight;
  }

  private flush(): void {
    this.stopTimer();
    if (this.inFlight || this.pending === '') return;
    const events = this.takePending();
    this.inFlight = this.write(events).finally(() => {
      this.inFlight = undefined;
      if (this.pending.length >= this.limits.chars) this.flush();
      else if (this.pending !== '') this.timer ??= setTimeout(() => this.flush(), this.limits.ms);
    });
  }

  private takePending(): StepEvent[] {
    if (this.pending === '') return [];
    const text = this.pending;
    this.pending = '';
    return [{ type: 'job.output.delta', data: { step: this.step, text } }];
  }

  private async write(events: readonly StepEvent[]): Promise<void> {
    this.writes++;
    try {
      await this.send(events);
    } catch (error) {
      this.failure ??= error;
    }
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
