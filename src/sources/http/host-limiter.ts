/** No slot to a host came free within the limiter's bound: the host's other requests are slow, or many. */
export class HostBusyError extends Error {
  readonly code = 'CP_HOST_BUSY';
  constructor(
    readonly host: string,
    waitedMs: number,
    concurrency: number,
    intervalMs: number,
  ) {
    super(
      `waited ${Number((waitedMs / 1000).toFixed(1))} s for a free connection to ${host} (http.perHostConcurrency: ${concurrency} at a time, ` +
        `http.perHostIntervalMs: ${intervalMs} ms apart) and sent nothing; other sources on that host are slow or many: ` +
        'raise perHostConcurrency or spread their schedules',
    );
  }
}

/**
 * Politeness per host, in process: at most `concurrency` requests in flight to one host, and request starts spaced
 * at least `intervalMs` apart. Replicas each keep their own limiter, so N workers may reach N times the rate; poll
 * jobs are already one per source and tick, which keeps the total modest. A request that gets no slot within
 * `maxWaitMs` fails with HostBusyError instead of queueing for ever behind servers that trickle.
 */
export class HostLimiter {
  private readonly hosts = new Map<string, { active: number; nextStart: number; waiting: Array<() => void> }>();

  constructor(
    private readonly concurrency: number,
    private readonly intervalMs: number,
    private readonly maxWaitMs = Infinity,
  ) {}

  /**
   * Waits for a slot for the host and returns the function that releases it. Rejects with the signal's reason when
   * it aborts, and with HostBusyError after maxWaitMs.
   */
  async acquire(host: string, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (!Number.isFinite(this.maxWaitMs)) return this.take(host, signal);
    const bound = new AbortController();
    const timer = setTimeout(() => bound.abort(new HostBusyError(host, this.maxWaitMs, this.concurrency, this.intervalMs)), this.maxWaitMs);
    timer.unref();
    try {
      return await this.take(host, signal ? AbortSignal.any([signal, bound.signal]) : bound.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private async take(host: string, signal?: AbortSignal): Promise<() => void> {
    let state = this.hosts.get(host);
    if (!state) {
      if (this.hosts.size >= 1000) this.prune();
      state = { active: 0, nextStart: 0, waiting: [] };
      this.hosts.set(host, state);
    }
    const s = state;
    if (s.active >= this.concurrency) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          s.waiting.splice(s.waiting.indexOf(wake), 1);
          reject(signal?.reason);
        };
        s.waiting.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } else {
      s.active++;
    }
    // The slot is ours (a waker hands its slot over without decrementing). Reserve the next start time before waiting
    // so that concurrent acquirers space themselves out.
    const now = Date.now();
    const start = Math.max(now, s.nextStart);
    s.nextStart = start + this.intervalMs;
    try {
      if (start > now) await sleep(start - now, signal);
    } catch (err) {
      this.release(s);
      throw err;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(s);
    };
  }

  private release(s: { active: number; waiting: Array<() => void> }): void {
    const next = s.waiting.shift();
    if (next) return next();
    s.active--;
  }

  // Idle hosts keep their next start time until it has passed, so the interval holds between sequential requests.
  private prune(): void {
    const now = Date.now();
    for (const [host, s] of this.hosts) if (s.active === 0 && s.nextStart <= now) this.hosts.delete(host);
  }
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
