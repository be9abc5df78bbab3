import { UrlRefusedError } from '../ssrf.js';
import { ConnectTimeoutError } from './agents.js';
import { HostBusyError } from './host-limiter.js';
import { BodyTooLargeError } from './read-body.js';
import { parseRetryAfter } from './retry-after.js';

/** One attempt's failure as the client decided it, before it becomes a SourceFetchError. */
export class AttemptError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    /** Worth another try by the job layer (network, 5xx, 429). */
    readonly retryable: boolean,
    /** Worth another try right now, inside the same fetch. */
    readonly retryInClient = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface Failure {
  reason: string;
  message: string;
  retryable: boolean;
  retryInClient: boolean;
  retryAfterMs?: number;
}

/**
 * An HTTP status that is neither success, redirect nor 304. The Retry-After of a 429 or a 503 (RFC 9110 gives it to
 * both: rate limits, and maintenance or overload, as GDELT and agency sites send) travels with the error: the client
 * waits a short one out in place, and a long one holds the source's polls back until then (not-before, source state).
 */
export function statusFailure(status: number, statusText: string | undefined, retryAfter: string | undefined): AttemptError {
  const text = `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  const wait = status === 429 || status === 503 ? parseRetryAfter(retryAfter, new Date()) : undefined;
  const stated = `${text}${wait !== undefined ? ` (Retry-After ${Math.ceil(wait / 1000)} s)` : ''}`;
  if (status === 429) return new AttemptError('rate-limited', stated, true, true, wait);
  if (status >= 500) return new AttemptError('http-status', stated, true, true, wait);
  return new AttemptError('http-status', text, false);
}

// Socket-level failures that are usually transient.
const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_BAD_RESPONSE',
  'Z_BUF_ERROR',
]);

function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let c = e; c !== undefined && c !== null && out.length < 8; c = (c as { cause?: unknown }).cause) out.push(c);
  return out;
}

/** Turns whatever an attempt threw into a reason, an operator-facing message and a retry decision. */
export function classifyFailure(e: unknown, ctx: { timeoutMs: number; maxBytes: number; callerAborted: boolean }): Failure {
  const chain = causes(e);
  const find = <T>(cls: abstract new (...args: never[]) => T) => chain.find((c) => c instanceof cls) as T | undefined;
  const attemptError = find(AttemptError);
  if (attemptError) return attemptError;
  const refused = find(UrlRefusedError);
  if (refused) {
    return { reason: refused.reason === 'private-address' ? 'ssrf-refused' : 'url-refused', message: refused.message, retryable: false, retryInClient: false };
  }
  if (find(BodyTooLargeError)) {
    return { reason: 'too-large', message: `body larger than ${ctx.maxBytes} bytes (after decompression); raise maxBytes if this is expected`, retryable: false, retryInClient: false };
  }
  // Nothing was sent, and the next scheduled poll will queue again: a retry soon after would only join the queue.
  const busy = find(HostBusyError);
  if (busy) return { reason: 'host-busy', message: busy.message, retryable: false, retryInClient: false };
  const connect = find(ConnectTimeoutError);
  if (connect) return { reason: 'connect-timeout', message: connect.message, retryable: true, retryInClient: true };
  if (ctx.callerAborted) return { reason: 'aborted', message: 'aborted (the worker is shutting down or the job was cancelled)', retryable: true, retryInClient: false };
  if (chain.some((c) => c instanceof Error && (c.name === 'TimeoutError' || c.name === 'CanceledError' || (c as { code?: string }).code === 'ERR_CANCELED'))) {
    // The total deadline: the server is slow or trickling; trying again at once would only double the wait.
    return { reason: 'timeout', message: `no complete response within ${ctx.timeoutMs} ms`, retryable: true, retryInClient: false };
  }
  const code = chain.map((c) => (c as { code?: unknown }).code).find((c): c is string => typeof c === 'string' && c !== 'ERR_NETWORK');
  const message = chain.map((c) => (c instanceof Error ? c.message : '')).find(Boolean) || String(e);
  if (code === 'ENOTFOUND') return { reason: 'dns', message: `host not found (${message})`, retryable: true, retryInClient: false };
  if (code && (TRANSIENT.has(code) || code.startsWith('Z_'))) {
    return { reason: 'network', message: `${code}: ${message}`, retryable: true, retryInClient: !code.startsWith('Z_') };
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return { reason: 'file', message, retryable: false, retryInClient: false };
  return { reason: 'network', message: code ? `${code}: ${message}` : message, retryable: true, retryInClient: false };
}
