import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import axios, { type AxiosResponse } from 'axios';
import type { Settings } from '../config/schema.js';
import { SourceFetchError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { redactSecrets } from '../secrets.js';
import { assertUrlAllowed } from './ssrf.js';
import { createGuardedAgents } from './http/agents.js';
import { displayUrl } from './http/display-url.js';
import { classifyFailure, AttemptError, statusFailure } from './http/failures.js';
import { readFileUrl } from './http/file-url.js';
import { Deadline } from './http/deadline.js';
import { HostHeldError, HostHoldStoreError, type HostHolds } from './http/host-hold.js';
import { HostLimiter, sleep } from './http/host-limiter.js';
import { readCapped, BodyTooLargeError } from './http/read-body.js';
import { backoffDelay } from './http/retry-after.js';

export { displayUrl };

/** Conditional-GET validators remembered per source. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

export interface HttpRequest {
  url: string;
  /** Names the source in errors. */
  sourceId: string;
  headers?: Record<string, string>;
  accept?: string;
  /** Sent as If-None-Match / If-Modified-Since; a 304 answer is returned as notModified. */
  validators?: Validators;
  timeoutMs?: number;
  /** The body cap for this request; else http.maxBytes, lowered to `maxBytesAtMost` when that is given. */
  maxBytes?: number;
  maxBytesAtMost?: number;
  signal?: AbortSignal;
  /**
   * Retry-After holds shared by every source on a host: no request (redirect hops included) is sent to a held origin
   * (HostHeldError), and a 429/503 whose Retry-After ends the fetch holds the origin that answered.
   */
  hostHolds?: HostHolds;
}

export type HttpResponse =
  | { notModified: true; status: number; url: string }
  | {
      notModified: false;
      status: number;
      /** The final URL after redirects (base for relative links). */
      url: string;
      /** Decompressed, undecoded bytes: the parser detects the charset from the prolog or contentType. */
      body: Buffer;
      contentType?: string;
      validators: Validators;
    };

export interface HttpClient {
  get(request: HttpRequest): Promise<HttpResponse>;
  /** Closes kept-alive sockets. */
  close(): void;
}

export interface HttpClientOptions {
  /** Overrides the whole User-Agent header. */
  userAgent?: string;
  /** First backoff step between retries (doubles each time, full jitter). */
  retryBaseDelayMs?: number;
  /** Longest Retry-After the client waits in place; longer ones fail with retryAfterMs for the job layer. */
  maxRetryWaitMs?: number;
  /**
   * Longest wait for a free connection to a host (perHostConcurrency, perHostIntervalMs) before a fetch fails as
   * host-busy without being sent. Default: 5 minutes, or ten times http.timeoutMs when that is longer.
   */
  maxHostWaitMs?: number;
  /**
   * Which addresses count as non-public (default: isPrivateAddress). Lets tests stand a "private" server on
   * 127.0.0.2 beside a "public" one on 127.0.0.1, and embedders narrow the policy deliberately.
   */
  isPrivateAddress?: (ip: string) => boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Whether a hop may carry the configured headers (which may hold API keys): the configured origin, or its host
 * upgraded from http to https (a server that moves its API to https keeps its key, now sent encrypted). The port of an
 * upgraded host may differ (80 -> 443, or any), as json.ts's nextPageUrl allows for next pages.
 */
export function mayCarryHeaders(hop: string, configured: string): boolean {
  const to = new URL(hop);
  const from = new URL(configured);
  if (to.origin === from.origin) return true;
  return from.protocol === 'http:' && to.protocol === 'https:' && to.hostname === from.hostname;
}

/** A hop's URL for an error message: origin and path only, as a redirect's query may carry a signed token. */
function hopForMessage(url: string): string {
  const u = new URL(url);
  return redactSecrets(`${u.origin}${u.pathname}`);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** `Chokepoint/<version> (+<contact>)`: servers' operators can tell who polls them and how to reach us. */
export function userAgent(contact?: string): string {
  return `Chokepoint/${packageVersion()}${contact ? ` (+${contact})` : ''}`;
}

/**
 * The one HTTP client every source kind uses: SSRF-guarded sockets, connect timeout and total deadline, a size cap on
 * the decompressed body, redirects followed by hand (each hop re-checked), conditional GET, per-host politeness,
 * retries with backoff on network errors and 5xx, and Retry-After on 429.
 */
export function createHttpClient(settings: Settings['http'], opts: HttpClientOptions = {}): HttpClient {
  const isPrivate = opts.isPrivateAddress;
  const agents = createGuardedAgents({
    allowPrivateAddresses: settings.allowPrivateAddresses,
    connectTimeoutMs: settings.connectTimeoutMs,
    isPrivate,
  });
  // A fetch's own timeout starts once it has its slot (see Deadline); this bounds the wait before that, generously:
  // ten slow sources ahead of it on its host are a normal day, a queue that never moves is not.
  const maxHostWait = opts.maxHostWaitMs ?? Math.max(5 * 60_000, 10 * settings.timeoutMs);
  const limiter = new HostLimiter(settings.perHostConcurrency, settings.perHostIntervalMs, maxHostWait);
  const ua = opts.userAgent ?? userAgent(settings.userAgentContact);
  const baseDelay = opts.retryBaseDelayMs ?? 500;
  const maxWait = opts.maxRetryWaitMs ?? 10_000;
  const instance = axios.create({
    proxy: false, // an env proxy would resolve DNS itself and bypass the guarded sockets
    maxRedirects: 0,
    responseType: 'stream',
    decompress: true,
    validateStatus: () => true,
    httpAgent: agents.httpAgent,
    httpsAgent: agents.httpsAgent,
  });

  /** One try: the deadline runs while a slot is held and `signal` (the deadline or the caller's) aborts the request. */
  async function attempt(req: HttpRequest, deadline: Deadline, signal: AbortSignal, maxBytes: number, at: { url: string }): Promise<HttpResponse> {
    let current = req.url;
    const chain = [current];
    for (;;) {
      // The hop now asked, for the error message should this one fail.
      at.url = current;
      // Redirects may never lead to file: URLs, whatever allowFileUrls says.
      assertUrlAllowed(current, { allowPrivateAddresses: settings.allowPrivateAddresses, allowFileUrls: false, isPrivate });
      const headers: Record<string, string> = {
        'User-Agent': ua,
        Accept: req.accept ?? '*/*',
        'Accept-Encoding': 'gzip, deflate, br',
        // Configured headers may carry API keys: they go only to the configured origin (or its https upgrade).
        ...(mayCarryHeaders(current, req.url) ? req.headers : {}),
      };
      if (req.validators?.etag) headers['If-None-Match'] = req.validators.etag;
      if (req.validators?.lastModified) headers['If-Modified-Since'] = req.validators.lastModified;

      deadline.pause();
      const origin = new URL(current).origin;
      // Checked before queueing for the host (a held host's sources do not wait their turn only to be told so), and
      // again once the slot is ours: a request queued behind one that was just told to wait must not go.
      await checkHold(req.hostHolds, origin);
      const release = await limiter.acquire(new URL(current).host, req.signal);
      try {
        await checkHold(req.hostHolds, origin);
        deadline.run();
        const res: AxiosResponse<Readable> = await instance.get(current, { headers, signal });
        const status = res.status;
        const location = res.headers.location as string | undefined;
        if (REDIRECTS.has(status) && location) {
          res.data.destroy();
          const next = new URL(location, current).href;
          if (chain.includes(next)) throw new AttemptError('redirect-loop', `redirect loop: ${[...chain, next].map(displayUrl).join(' -> ')}`, false);
          if (chain.length > settings.maxRedirects) {
            throw new AttemptError('too-many-redirects', `more than ${settings.maxRedirects} redirects (last: ${displayUrl(next)})`, false);
          }
          chain.push(next);
          current = next;
          continue;
        }
        if (status === 304) {
          res.data.destroy();
          return { notModified: true, status, url: current };
        }
        if (status < 200 || status >= 300) {
          res.data.destroy();
          const failure = statusFailure(status, res.statusText, res.headers['retry-after'] as string | undefined);
          // A 429 is the host's word about this client: the host that answered (not an origin that redirected here)
          // is held, set before the slot is released so that its next queued request finds it. Only for a wait longer
          // than the client sits out in place (a short one on a last try holds nothing: the job layer retries the
          // source soon anyway), and not for a 503, which one path's maintenance may send for a day.
          if (req.hostHolds && status === 429 && failure.retryAfterMs !== undefined && failure.retryAfterMs > maxWait) {
            // Best effort: the 429 and its wait, which the source's own hold is set from, matter more than the store's error.
            await req.hostHolds.hold(origin, failure.retryAfterMs).catch(() => undefined);
          }
          throw failure;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          res.data.destroy();
          throw new BodyTooLargeError(maxBytes);
        }
        const body = await readCapped(res.data, maxBytes, signal);
        const header = (name: string) => (res.headers[name] as string | undefined) || undefined;
        return {
          notModified: false,
          status,
          url: current,
          body,
          contentType: header('content-type'),
          validators: { etag: header('etag'), lastModified: header('last-modified') },
        };
      } finally {
        release();
      }
    }
  }

  async function get(req: HttpRequest): Promise<HttpResponse> {
    const timeoutMs = req.timeoutMs ?? settings.timeoutMs;
    const maxBytes = req.maxBytes ?? Math.min(settings.maxBytes, req.maxBytesAtMost ?? Infinity);
    const shown = displayUrl(req.url);
    const at = { url: req.url };
    const fail = (e: unknown, attempts: number): SourceFetchError => {
      const f = classifyFailure(e, { timeoutMs, maxBytes, callerAborted: req.signal?.aborted === true });
      const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
      // The hop that failed, when a redirect led there: a 401 from the https host is not the configured URL's doing.
      // Redirect loops name their whole chain already.
      const redirected = at.url !== req.url && f.reason !== 'redirect-loop' && f.reason !== 'too-many-redirects';
      const hop = redirected ? ` (after redirect to ${hopForMessage(at.url)})` : '';
      return new SourceFetchError(req.sourceId, f.reason, redactSecrets(`GET ${shown} failed: ${f.message}${hop}${tries}`), {
        cause: e,
        retryable: f.retryable,
        retryAfterMs: f.retryAfterMs,
      });
    };
    try {
      assertUrlAllowed(req.url, { ...settings, isPrivate });
    } catch (e) {
      throw fail(e, 1);
    }
    if (req.url.startsWith('file:')) {
      try {
        const file = await readFileUrl(req.url, maxBytes, req.validators?.lastModified, req.signal);
        if (file.notModified) return { notModified: true, status: 304, url: req.url };
        return { notModified: false, status: 200, url: req.url, body: file.body, contentType: file.contentType, validators: { lastModified: file.lastModified } };
      } catch (e) {
        throw fail(e, 1);
      }
    }

    for (let n = 0; ; n++) {
      const deadline = new Deadline(timeoutMs);
      const signal = req.signal ? AbortSignal.any([deadline.signal, req.signal]) : deadline.signal;
      try {
        // The clock stops when the attempt settles, either way: no timer outlives it.
        return await attempt(req, deadline, signal, maxBytes, at).finally(() => deadline.pause());
      } catch (e) {
        if (e instanceof HostHeldError || e instanceof HostHoldStoreError) throw e;
        const f = classifyFailure(e, { timeoutMs, maxBytes, callerAborted: req.signal?.aborted === true });
        if (!f.retryInClient || n >= settings.retries) throw fail(e, n + 1);
        const wait = f.retryAfterMs ?? backoffDelay(n, baseDelay);
        if (wait > maxWait) throw fail(e, n + 1);
        try {
          await sleep(wait, req.signal);
        } catch {
          throw fail(e, n + 1);
        }
      }
    }
  }

  return { get, close: () => agents.destroy() };
}

/** Throws HostHeldError when the origin is under a host's hold. */
async function checkHold(holds: HostHolds | undefined, origin: string): Promise<void> {
  const held = holds && (await viaHoldStore(() => holds.check(origin)));
  if (held) throw new HostHeldError(origin, held.notBefore, held.skipped);
}

async function viaHoldStore<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw new HostHoldStoreError(e);
  }
}
