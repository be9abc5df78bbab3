/**
 * The total deadline of one fetch attempt, counted only while the attempt holds a connection slot to its host: time
 * spent waiting for a slot (http.perHostConcurrency, http.perHostIntervalMs) is other sources' doing, not this one's,
 * and a healthy source queued behind two slow ones on its host must not time out before it has asked anything.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private remainingMs: number;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly ms: number) {
    this.remainingMs = ms;
  }

  /** Aborted, with a TimeoutError like AbortSignal.timeout's, once the running time reaches `ms`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts the clock, or resumes it where pause() left it. */
  run(): void {
    if (this.timer || this.controller.signal.aborted) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.controller.abort(new DOMException(`no complete response within ${this.ms} ms`, 'TimeoutError'));
    }, Math.max(0, this.remainingMs));
    this.timer.unref();
  }

  /** Stops the clock while the attempt waits for a slot again (a redirect to a busy host), or once it is over. */
  pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs -= Date.now() - this.startedAt;
  }
}
