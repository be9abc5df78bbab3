/**
 * A first-come-first-served gate in front of an email channel's SMTP pool. nodemailer's pool queues a send it has no
 * connection for, so a timeout around sendMail would count the wait behind slow sends as the send's own exchange: the
 * gate lets a send in only when a connection is free, and the caller starts the send's timeout from there.
 */

/** The code of the failure of a send that found no free connection in its channel's pool in time. */
export const POOL_BUSY = 'EPOOLBUSY';

/** Nothing was sent: every connection of the pool stayed busy for the whole wait. */
function poolBusy(waitMs: number): Error {
  const seconds = Number((waitMs / 1000).toFixed(1));
  return Object.assign(new Error(`no free SMTP connection within ${seconds} s (the channel's other sends are slow or many); nothing was sent`), { code: POOL_BUSY });
}

/** The code of the failure of a send turned away because its pool was closed or replaced before it got a connection. */
export const POOL_CLOSED = 'EPOOLCLOSED';

/**
 * Nothing was sent: the pool closed (its notifier closed at a config reload or shutdown, or the channel moved to
 * another server) while the send waited. Worth a retry, which finds the current pool.
 */
export function poolClosed(): Error {
  return Object.assign(new Error("the channel's SMTP connection pool was closed (config reload or shutdown) before this send got a connection; nothing was sent"), {
    code: POOL_CLOSED,
  });
}

/** A send cancelled (the job's signal) while it waited for a connection: as nodemailer reports a cancelled send. */
function cancelled(): Error {
  return Object.assign(new Error('send cancelled while waiting for a connection'), { code: 'EABORT' });
}

/**
 * At most `size` sends at a time on one pool, first come first served. The send timeout starts once a send is let
 * in: nodemailer's pool would otherwise queue it, and a timeout around sendMail would count the wait behind slow
 * sends as if it were its own exchange. A send waits at most `waitMs` to be let in. Once the gate is closed (with its
 * transport) nothing more is let in: a send let in later would find the transport closed and fail, an attempt lost.
 */
export function createSendGate(size: number) {
  let free = size;
  let closed = false;
  const waiting: Array<{ admit: (release: () => void) => void; refuse: (err: Error) => void }> = [];
  const releaser = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = waiting.shift();
      if (next) next.admit(releaser());
      else free++;
    };
  };
  return {
    /** Resolves with the release once the send may start; rejects (POOL_BUSY, POOL_CLOSED, EABORT) without letting it in. */
    enter(waitMs: number, signal?: AbortSignal): Promise<() => void> {
      if (closed) return Promise.reject(poolClosed());
      if (signal?.aborted) return Promise.reject(cancelled());
      if (free > 0) {
        free--;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const admit = (release: () => void) => {
          done();
          resolve(release);
        };
        const refuse = (err: Error) => {
          const index = waiting.indexOf(place);
          if (index !== -1) waiting.splice(index, 1);
          done();
          reject(err);
        };
        const place = { admit, refuse };
        const onAbort = () => refuse(cancelled());
        const timer = setTimeout(() => refuse(poolBusy(waitMs)), waitMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(place);
      });
    },
    /** Lets nothing more in, and turns away every send waiting (POOL_CLOSED); sends already let in finish. */
    close(): void {
      closed = true;
      for (const place of [...waiting]) place.refuse(poolClosed());
    },
  };
}

export type SendGate = ReturnType<typeof createSendGate>;
