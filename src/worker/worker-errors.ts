import type { Logger } from '../log.js';

// The connection watcher (queue/connection.ts) already logs a lost Redis once; BullMQ re-emits the same fault on every
// queue and worker, which would print a dozen lines per reconnect attempt.
const CONNECTION_FAULT = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|Connection is closed|Stream isn't writeable/;

// BullMQ's words when a job it was finishing is gone from Redis, or no longer locked by this worker.
const JOB_STATE_LOST = /^Missing (key|lock) for job (\S+)\. (\w+)/;

// Redis's replies while a node changes role or a slot moves (a failover, a resharding, a replica still loading): the
// command is retried, on the node that serves the slot now. A blocking wait on a demoted primary ends with UNBLOCKED.
// A cluster client that ran out of redirections wraps the last reply ("Too many Cluster redirections. Last error: ...").
const NODE_CHANGE = /^(?:Too many Cluster redirections\. Last error: (?:ReplyError: )?)?(UNBLOCKED|MOVED|ASK|CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN)\b/;

/**
 * Logs an error a BullMQ queue or worker emitted: connection faults at debug (the connection watcher already said it
 * once), a node changing role at info, jobs whose Redis state vanished as one warning line, anything else with its
 * error.
 */
export function logUnlessConnectionError(log: Logger, err: Error, context: Record<string, unknown>, message: string): void {
  const code = (err as Error & { code?: string }).code ?? '';
  if (CONNECTION_FAULT.test(code) || CONNECTION_FAULT.test(err.message)) {
    log.debug({ err, ...context }, message);
    return;
  }
  const change = NODE_CHANGE.exec(err.message);
  if (change) {
    log.info({ ...context, reply: change[1] }, 'a Redis node changed role or a slot moved (failover, resharding or restart); the command is retried on the node that serves it now');
    return;
  }
  // Expected after a Redis restart without persistence, or a stall: one line that says what happened, no stack.
  const lost = JOB_STATE_LOST.exec(err.message);
  if (lost) {
    const [, what, jobId, step] = lost;
    log.warn(
      { ...context, jobId, step },
      what === 'key'
        ? 'job vanished from Redis while it ran (Redis restarted without persistence, or its keys were deleted); nothing to finish'
        : 'job lost its lock while it ran (stalled: another worker may run it again; every job is idempotent)',
    );
    return;
  }
  log.warn({ err, ...context }, message);
}
