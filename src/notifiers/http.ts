import http from 'node:http';
import https from 'node:https';
import { DeliveryError } from '../errors.js';
import { createGuardedAgents, type GuardedAgents } from '../sources/http/agents.js';
import { BodyTooLargeError, readCapped } from '../sources/http/read-body.js';
import { assertUrlAllowed, UrlRefusedError } from '../sources/ssrf.js';
import type { SendContext } from './types.js';
import { scrub } from './redact.js';
import { statedRetryAfterMs, DEFAULT_RATE_LIMIT_DELAY_MS } from './retry-after.js';
import { oneLine, truncate } from './format.js';

/** The HTTP edge shared by the Slack, webhook and Teams notifiers: one POST, classified outcome. */

export interface HttpTarget {
  channelId: string;
  /** What the operator calls the receiver, for messages: "Slack webhook", "Teams workflow". */
  label: string;
  url: string;
  /** Values to scrub from anything a receiver or a library says (see channelSecrets). */
  secrets: readonly string[];
}

export interface HttpReply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Receivers answer with a word or a short JSON error; anything longer is an HTML error page we don't need. */
const MAX_REPLY_BYTES = 64 * 1024;

export const USER_AGENT = 'chokepoint-notifier/0.1 (+https://github.com/chokepoint)';

/**
 * POSTs a body once. No proxy (a proxy resolves DNS itself and would bypass the SSRF guard), no redirects (a
 * webhook that redirects is misconfigured, and following it would re-send the body elsewhere), the SSRF guard on
 * the URL and at connect time. Network failures and timeouts throw DeliveryError.retryable; a refused address
 * throws DeliveryError.permanent; any HTTP status is returned for the caller to classify.
 *
 * Node's own client rather than axios (which the sources use): this runs once per notification, and axios' request
 * and config machinery cost about as much CPU again as the request itself; none of what it adds (proxies,
 * redirects, decompression, transforms) is wanted here.
 */
export async function postOnce(
  target: HttpTarget,
  body: string,
  headers: Record<string, string>,
  context: SendContext,
): Promise<HttpReply> {
  const allowPrivate = context.http.allowPrivateAddresses;
  try {
    assertUrlAllowed(target.url, { allowPrivateAddresses: allowPrivate });
  } catch (err) {
    throw refused(target, err);
  }
  const timeoutMs = context.http.timeoutMs;
  const { httpAgent, httpsAgent } = agentsFor(allowPrivate, timeoutMs);
  const url = new URL(target.url);
  let deadlinePassed = false;
  let deadline: NodeJS.Timeout | undefined;
  let onCancel: (() => void) | undefined;
  try {
    return await new Promise<HttpReply>((resolve, reject) => {
      if (context.signal?.aborted) throw new SendCancelledError();
      const payload = Buffer.from(body, 'utf8');
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        agent: url.protocol === 'https:' ? httpsAgent : httpAgent,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': USER_AGENT,
          Accept: 'application/json, text/plain, */*',
          'Accept-Encoding': 'identity',
          ...headers,
          'Content-Length': String(payload.length),
        },
      });
      // The socket timeout is an idle timer; a receiver that drips its answer byte by byte needs a wall-clock
      // deadline too.
      request.setTimeout(timeoutMs, () => request.destroy(new NoAnswerError(timeoutMs)));
      deadline = setTimeout(() => {
        deadlinePassed = true;
        request.destroy(new NoAnswerError(timeoutMs));
      }, timeoutMs + 1000);
      onCancel = () => request.destroy(new SendCancelledError());
      context.signal?.addEventListener('abort', onCancel, { once: true });
      request.on('error', reject);
      request.on('response', (response) => {
        readCapped(response, MAX_REPLY_BYTES).then(
          (reply) => resolve({ status: response.statusCode ?? 0, body: reply.toString('utf8'), headers: response.headers }),
          reject,
        );
      });
      request.end(payload);
    });
  } catch (err) {
    // Which error wins when a send is cut short (the request's own, or the reply stream's "aborted") is a race: the
    // cause is decided by what cut it.
    throw networkFailure(target, err as NodeJS.ErrnoException, timeoutMs, deadlinePassed ? 'deadline' : context.signal?.aborted ? 'cancelled' : undefined);
  } finally {
    clearTimeout(deadline);
    if (onCancel) context.signal?.removeEventListener('abort', onCancel);
  }
}

class SendCancelledError extends Error {
  readonly code = 'ABORT_ERR';
  readonly name = 'AbortError';
  constructor() {
    super('send was cancelled');
  }
}

class NoAnswerError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * Keep-alive agents, one pair per address policy and timeout, shared with the sources' guard (address checked at
 * connect time, literal IPs included, and a connect timeout): a notification storm to one receiver reuses its
 * connections instead of paying a TCP (and TLS) handshake per message. A reused socket is one the same policy let
 * through. Idle sockets close after a few seconds (before the usual 5 s server keep-alive, which narrows the race
 * of a send on a socket the receiver is closing) and never hold the process open.
 */
const IDLE_SOCKET_MS = 4_000;
const agentsByPolicy = new Map<string, GuardedAgents>();

function agentsFor(allowPrivate: boolean, timeoutMs: number): GuardedAgents {
  const key = `${allowPrivate}:${timeoutMs}`;
  let agents = agentsByPolicy.get(key);
  if (!agents) {
    agents = createGuardedAgents({ allowPrivateAddresses: allowPrivate, connectTimeoutMs: timeoutMs, idleSocketMs: IDLE_SOCKET_MS });
    agentsByPolicy.set(key, agents);
  }
  return agents;
}

function refused(target: HttpTarget, err: unknown): DeliveryError {
  const message = err instanceof Error ? err.message : String(err);
  return DeliveryError.permanent(target.channelId, `${target.label} address refused: ${scrub(message, target.secrets)}`, {
    cause: safeCause(err, target),
  });
}

function networkFailure(target: HttpTarget, err: NodeJS.ErrnoException, timeoutMs: number, cutBy?: 'deadline' | 'cancelled'): DeliveryError {
  if (err instanceof UrlRefusedError || err.code === 'CP_SSRF_REFUSED') return refused(target, err);
  const code = err.code ?? 'unknown';
  // Node refuses a header it cannot send before anything leaves: every retry would fail the same way.
  if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') {
    return DeliveryError.permanent(target.channelId, `${target.label} request not sent: a configured header has an invalid name or value (${code}); check the channel's headers`, {
      cause: safeCause(err, target),
    });
  }
  let what: string;
  if (code === 'ETIMEDOUT' || cutBy === 'deadline') what = `no answer within ${timeoutMs} ms`;
  else if (code === 'ABORT_ERR' || cutBy === 'cancelled') what = 'send was cancelled';
  else if (err instanceof BodyTooLargeError || code.startsWith('HPE_')) what = 'the reply was too large or malformed';
  else what = `network error ${code}`;
  return DeliveryError.retryable(target.channelId, `${target.label} request failed: ${what}`, {
    cause: safeCause(err, target),
  });
}

/**
 * A library error carries the request config (URL, headers) as enumerable properties. The cause we keep is a plain
 * Error with the code and a scrubbed message, so nothing that inspects the cause chain can reach the credential.
 */
export function safeCause(err: unknown, target: { secrets: readonly string[] }): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const cause = new Error(scrub(source.message, target.secrets));
  cause.name = source.name;
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(cause, { code });
  return cause;
}

/** A short, printable, scrubbed excerpt of what the receiver said, for error messages. */
export function replyExcerpt(reply: HttpReply, secrets: readonly string[]): string {
  const text = oneLine(reply.body.replace(/<[^>]*>/g, ' '));
  return text ? truncate(scrub(text, secrets), 200) : '(empty body)';
}

/**
 * The classification every HTTP receiver shares: 2xx delivered; 429 rate-limited for Retry-After; 408, 425 and 5xx
 * retryable; 3xx (we never follow redirects) and every other 4xx permanent, because sending the same request again
 * gets the same answer.
 */
export function classifyReply(target: HttpTarget, reply: HttpReply, hint?: (reply: HttpReply) => string | undefined): void {
  const { status } = reply;
  if (status >= 200 && status < 300) return;
  const said = replyExcerpt(reply, target.secrets);
  // The messages say what the receiver answered and asked for, never what happens next: only the caller knows that (a
  // job's last attempt gives up, a one-off send from the CLI never retries).
  const asked = statedRetryAfterMs(reply.headers['retry-after'], new Date(), reply.headers.date);
  const retryAfter = asked === undefined ? '' : `, Retry-After ${Math.round(asked / 1000)} s`;
  if (status === 429) {
    throw DeliveryError.rateLimited(target.channelId, asked ?? DEFAULT_RATE_LIMIT_DELAY_MS, `${target.label} rate-limited us (HTTP 429${retryAfter})`);
  }
  if (status >= 500 || status === 408 || status === 425) {
    // A 503 (or any of these) may say when to come back: the retry waits at least that long, still using an attempt.
    throw DeliveryError.retryable(target.channelId, `${target.label} answered HTTP ${status}${retryAfter}: ${said}`, { delayMs: asked });
  }
  const advice = hint?.(reply) ?? (status >= 300 && status < 400 ? 'the URL redirects; configure the final URL' : 'check the channel configuration');
  throw DeliveryError.permanent(target.channelId, `${target.label} refused the message (HTTP ${status}: ${said}); ${advice}; not retrying`);
}
