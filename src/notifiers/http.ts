import axios, { type AxiosError } from 'axios';
import { DeliveryError } from '../errors.js';
import { createGuardedAgents, type GuardedAgents } from '../sources/http/agents.js';
import { assertUrlAllowed, UrlRefusedError } from '../sources/ssrf.js';
import type { SendContext } from './types.js';
import { scrub } from './redact.js';
import { retryAfterMs } from './retry-after.js';
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
  const { httpAgent, httpsAgent } = agentsFor(allowPrivate, context.http.timeoutMs);
  // axios' timeout is an idle timer; a receiver that drips its answer byte by byte needs a wall-clock deadline too.
  const deadline = AbortSignal.timeout(context.http.timeoutMs + 1000);
  const signal = context.signal ? AbortSignal.any([context.signal, deadline]) : deadline;
  try {
    const response = await axios.post<string>(target.url, body, {
      headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT, ...headers },
      proxy: false,
      maxRedirects: 0,
      timeout: context.http.timeoutMs,
      signal,
      httpAgent,
      httpsAgent,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxContentLength: MAX_REPLY_BYTES,
      validateStatus: () => true,
    });
    return { status: response.status, body: String(response.data ?? ''), headers: response.headers as HttpReply['headers'] };
  } catch (err) {
    throw networkFailure(target, err as AxiosError, deadline.aborted && !context.signal?.aborted);
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

function networkFailure(target: HttpTarget, err: AxiosError, deadlinePassed: boolean): DeliveryError {
  const cause = err.cause;
  if (cause instanceof UrlRefusedError || err.code === 'CP_SSRF_REFUSED') return refused(target, cause ?? err);
  const code = err.code ?? 'unknown';
  let what: string;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || deadlinePassed) what = `no answer within ${timeoutText(err)}`;
  else if (code === 'ERR_CANCELED') what = 'send was cancelled';
  else if (code === 'ERR_BAD_RESPONSE' || code === 'ERR_FR_MAX_CONTENT_LENGTH_EXCEEDED') what = 'the reply was too large or malformed';
  else what = `network error ${code}`;
  return DeliveryError.retryable(target.channelId, `${target.label} request failed: ${what}; will retry`, {
    cause: safeCause(err, target),
  });
}

function timeoutText(err: AxiosError): string {
  const timeout = err.config?.timeout;
  return timeout ? `${timeout} ms` : 'the timeout';
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
  if (status === 429) {
    const delay = retryAfterMs(reply.headers['retry-after']);
    throw DeliveryError.rateLimited(target.channelId, delay, `${target.label} rate-limited us (HTTP 429); retrying in ${Math.round(delay / 1000)} s`);
  }
  if (status >= 500 || status === 408 || status === 425) {
    throw DeliveryError.retryable(target.channelId, `${target.label} answered HTTP ${status}: ${said}; will retry`);
  }
  const advice = hint?.(reply) ?? (status >= 300 && status < 400 ? 'the URL redirects; configure the final URL' : 'check the channel configuration');
  throw DeliveryError.permanent(target.channelId, `${target.label} refused the message (HTTP ${status}: ${said}); ${advice}; not retrying`);
}
