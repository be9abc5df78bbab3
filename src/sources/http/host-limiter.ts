/**
 * Politeness per host, in process: at most `concurrency` requests in flight to one host, and request starts spaced
 * at least `intervalMs` apart. Replicas each keep their own limiter, so N workers may reach N times the rate; poll
 * jobs are already one per source and tick, which keeps the total modest.
 */
export class HostLimiter {
  private readonly hosts = new Map<string, { active: number; nextStart: number; waiting: Array<() => void> }>();

  constructor(
    private readonly concurrency: number,
    private readonly intervalMs: number,
  ) {}

  /** Waits for a slot for the host and returns the function that releases it. */
  async acquire(host: string, signal?: AbortSignal): Promise<() => void> {
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
