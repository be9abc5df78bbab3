import http from 'node:http';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SourceFetchError } from '../../src/errors.js';
import { createGuardedAgents } from '../../src/sources/http/agents.js';
import { createHttpClient, type HttpClient, type HttpResponse } from '../../src/sources/http.js';
import { HostHeldError, type HostHolds } from '../../src/sources/http/host-hold.js';
import { httpSettings, startServer, type TestServer } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function serve(handler: http.RequestListener, host?: string): Promise<TestServer> {
  const server = await startServer(handler, host);
  cleanups.push(() => server.close());
  return server;
}

function client(overrides: Parameters<typeof httpSettings>[0] = {}, opts: Parameters<typeof createHttpClient>[1] = {}): HttpClient {
  const c = createHttpClient(httpSettings(overrides), { retryBaseDelayMs: 5, ...opts });
  cleanups.push(() => c.close());
  return c;
}

async function failure(promise: Promise<unknown>): Promise<SourceFetchError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceFetchError);
  return err as SourceFetchError;
}

function ok(res: HttpResponse): Extract<HttpResponse, { notModified: false }> {
  if (res.notModified) throw new Error('expected a body');
  return res;
}

/** Answers 200 and sends a byte every 20 ms for as long as the client listens: a response that never completes. */
function trickle(res: http.ServerResponse): void {
  res.writeHead(200);
  const timer = setInterval(() => res.write('.'), 20);
  res.on('close', () => clearInterval(timer));
}

/** A host whose /quick answers at once and whose every other path trickles. */
const quickOrTrickle: http.RequestListener = (req, res) => (req.url === '/quick' ? res.end('ok') : trickle(res));

describe('HTTP client', () => {
  it('returns the body, content type, final URL and validators after following a redirect', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/old') return res.writeHead(301, { Location: '/feed.xml' }).end();
      res.writeHead(200, { 'Content-Type': 'application/rss+xml; charset=ISO-8859-1', ETag: '"v1"', 'Last-Modified': 'Fri, 04 Apr 2025 12:00:00 GMT' });
      res.end(Buffer.from([0x3c, 0x72, 0x73, 0x73, 0x3e, 0xe9]));
    });
    const res = ok(await client().get({ url: `${server.url}/old`, sourceId: 's1' }));
    expect(res.url).toBe(`${server.url}/feed.xml`);
    expect(res.body).toEqual(Buffer.from([0x3c, 0x72, 0x73, 0x73, 0x3e, 0xe9]));
    expect(res.contentType).toBe('application/rss+xml; charset=ISO-8859-1');
    expect(res.validators).toEqual({ etag: '"v1"', lastModified: 'Fri, 04 Apr 2025 12:00:00 GMT' });
  });

  it('names Chokepoint, its version and the configured contact in the User-Agent', async () => {
    const server = await serve((_req, res) => res.end('x'));
    await client({ userAgentContact: 'mailto:ops@example.com' }).get({ url: server.url, sourceId: 's1' });
    expect(server.requests[0].headers['user-agent']).toMatch(/^Chokepoint\/\d+\.\d+\.\d+ \(\+mailto:ops@example\.com\)$/);
  });

  it('sends stored validators and reports a 304 as not modified', async () => {
    const server = await serve((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304).end();
      res.end('full body');
    });
    const res = await client().get({ url: server.url, sourceId: 's1', validators: { etag: '"v1"', lastModified: 'Fri, 04 Apr 2025 12:00:00 GMT' } });
    expect(res.notModified).toBe(true);
    expect(server.requests[0].headers['if-modified-since']).toBe('Fri, 04 Apr 2025 12:00:00 GMT');
  });

  it('decompresses gzip bodies', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'application/json' });
      res.end(zlib.gzipSync('{"ok":true}'));
    });
    expect(ok(await client().get({ url: server.url, sourceId: 's1' })).body.toString()).toBe('{"ok":true}');
  });

  it('stops an endless gzip bomb at the decompressed size cap', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      const gzip = zlib.createGzip();
      gzip.pipe(res);
      const zeros = Buffer.alloc(1 << 20);
      // Never ends: only a client that counts decompressed bytes as they arrive gets out.
      const pump = () => {
        if (res.destroyed) return gzip.destroy();
        while (gzip.write(zeros)) if (res.destroyed) return;
        gzip.once('drain', pump);
      };
      res.on('close', () => gzip.destroy());
      pump();
    });
    const err = await failure(client({ maxBytes: 2 << 20 }).get({ url: server.url, sourceId: 'bomb' }));
    expect(err.code).toBe('CP_SOURCE_TOO_LARGE');
    expect(err.message).toContain('source "bomb"');
    expect(err.retryable).toBe(false);
  });

  it('refuses a body over the cap, declared or streamed', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/declared') return res.writeHead(200, { 'Content-Length': 5000 }).end('x'.repeat(5000));
      res.write('x'.repeat(3000));
      res.end('x'.repeat(3000));
    });
    const c = client({ maxBytes: 4096 });
    expect((await failure(c.get({ url: `${server.url}/declared`, sourceId: 's1' }))).code).toBe('CP_SOURCE_TOO_LARGE');
    expect((await failure(c.get({ url: `${server.url}/chunked`, sourceId: 's1' }))).code).toBe('CP_SOURCE_TOO_LARGE');
    // A per-source override raises the cap.
    expect(ok(await c.get({ url: `${server.url}/chunked`, sourceId: 's1', maxBytes: 10_000 })).body.length).toBe(6000);
  });

  it('cuts a server that trickles bytes forever at the total deadline, without retrying it', async () => {
    const server = await serve((_req, res) => trickle(res));
    const err = await failure(client({ timeoutMs: 400 }).get({ url: server.url, sourceId: 'drip' }));
    expect(err.code).toBe('CP_SOURCE_TIMEOUT');
    expect(err.message).toContain('400 ms');
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('reports a redirect loop with the chain of URLs', async () => {
    const server = await serve((req, res) => res.writeHead(302, { Location: req.url === '/a' ? '/b' : '/a' }).end());
    const err = await failure(client().get({ url: `${server.url}/a`, sourceId: 's1' }));
    expect(err.code).toBe('CP_SOURCE_REDIRECT_LOOP');
    expect(err.message).toContain(`${server.url}/a -> ${server.url}/b -> ${server.url}/a`);
  });

  it('follows at most maxRedirects redirects', async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url!.slice(1));
      if (n > 0) return res.writeHead(307, { Location: `/${n - 1}` }).end();
      res.end('done');
    });
    const c = client({ maxRedirects: 5 });
    expect(ok(await c.get({ url: `${server.url}/5`, sourceId: 's1' })).body.toString()).toBe('done');
    expect((await failure(c.get({ url: `${server.url}/6`, sourceId: 's1' }))).code).toBe('CP_SOURCE_TOO_MANY_REDIRECTS');
  });

  it('refuses loopback addresses unless allowPrivateAddresses is set, without sending a request', async () => {
    const server = await serve((_req, res) => res.end('secret'));
    const err = await failure(client({ allowPrivateAddresses: false }).get({ url: `${server.url}/latest`, sourceId: 'ssrf' }));
    expect(err.code).toBe('CP_SOURCE_SSRF_REFUSED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('http.allowPrivateAddresses');
    for (const url of ['http://localhost/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://2130706433/']) {
      expect((await failure(client({ allowPrivateAddresses: false }).get({ url, sourceId: 'ssrf' }))).code).toBe('CP_SOURCE_SSRF_REFUSED');
    }
    expect(server.requests).toHaveLength(0);
    expect(ok(await client({ allowPrivateAddresses: true }).get({ url: server.url, sourceId: 'ok' })).body.toString()).toBe('secret');
  });

  it('re-checks every redirect hop against the SSRF guard', async () => {
    // 127.0.0.2 plays the private network and 127.0.0.1 the public internet.
    const inner = await serve((_req, res) => res.end('metadata'), '127.0.0.2');
    const outer = await serve((_req, res) => res.writeHead(302, { Location: `${inner.url}/latest` }).end());
    const c = client({ allowPrivateAddresses: false }, { isPrivateAddress: (ip) => ip === '127.0.0.2' });
    const err = await failure(c.get({ url: outer.url, sourceId: 'hop' }));
    expect(err.code).toBe('CP_SOURCE_SSRF_REFUSED');
    expect(outer.requests).toHaveLength(1);
    expect(inner.requests).toHaveLength(0);
  });

  it('reads file: URLs only when allowFileUrls is set, and never through a redirect', async () => {
    const file = new URL('../../package.json', import.meta.url).href;
    expect((await failure(client().get({ url: file, sourceId: 'f' }))).code).toBe('CP_SOURCE_URL_REFUSED');
    const res = ok(await client({ allowFileUrls: true }).get({ url: file, sourceId: 'f' }));
    expect(JSON.parse(res.body.toString()).name).toBe('chokepoint');
    expect(res.contentType).toBe('application/json');
    const again = await client({ allowFileUrls: true }).get({ url: file, sourceId: 'f', validators: res.validators });
    expect(again.notModified).toBe(true);
    const server = await serve((_req, res2) => res2.writeHead(302, { Location: file }).end());
    expect((await failure(client({ allowFileUrls: true }).get({ url: server.url, sourceId: 'f' }))).code).toBe('CP_SOURCE_URL_REFUSED');
  });

  it('retries 5xx with backoff and succeeds when the server recovers', async () => {
    let calls = 0;
    const server = await serve((_req, res) => (++calls < 3 ? res.writeHead(503).end() : res.end('ok')));
    expect(ok(await client({ retries: 2 }).get({ url: server.url, sourceId: 's1' })).body.toString()).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up on a persistent 5xx as retryable, naming the attempts', async () => {
    const server = await serve((_req, res) => res.writeHead(502, 'Bad Gateway').end());
    const err = await failure(client({ retries: 2 }).get({ url: server.url, sourceId: 's1' }));
    expect(err.code).toBe('CP_SOURCE_HTTP_STATUS');
    expect(err.message).toContain('HTTP 502 Bad Gateway (after 3 attempts)');
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry other 4xx', async () => {
    const server = await serve((_req, res) => res.writeHead(404).end());
    const err = await failure(client({ retries: 3 }).get({ url: server.url, sourceId: 's1' }));
    expect(err.message).toContain('HTTP 404');
    expect(err.retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('retries a reset connection', async () => {
    let calls = 0;
    const server = await serve((req, res) => (++calls === 1 ? req.socket.destroy() : res.end('ok')));
    expect(ok(await client().get({ url: server.url, sourceId: 's1' })).body.toString()).toBe('ok');
    expect(calls).toBe(2);
  });

  it('waits out a short Retry-After on 429 and tries again', async () => {
    const times: number[] = [];
    const server = await serve((_req, res) => {
      times.push(Date.now());
      if (times.length === 1) return res.writeHead(429, { 'Retry-After': '1' }).end();
      res.end('ok');
    });
    expect(ok(await client().get({ url: server.url, sourceId: 's1' })).body.toString()).toBe('ok');
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
  });

  it('hands a long Retry-After (seconds or HTTP date) to the job layer as retryAfterMs', async () => {
    const date = new Date(Date.now() + 3_600_000).toUTCString();
    const server = await serve((req, res) => res.writeHead(429, { 'Retry-After': req.url === '/date' ? date : '120' }).end());
    const err = await failure(client().get({ url: server.url, sourceId: 's1' }));
    expect(err.code).toBe('CP_SOURCE_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(120_000);
    expect(err.retryable).toBe(true);
    const byDate = await failure(client().get({ url: `${server.url}/date`, sourceId: 's1' }));
    expect(byDate.retryAfterMs).toBeGreaterThan(3_500_000);
    expect(server.requests).toHaveLength(2);
  });

  it('waits out a short Retry-After on 503 in place, no sooner than asked', async () => {
    const times: number[] = [];
    const server = await serve((_req, res) => {
      times.push(Date.now());
      if (times.length === 1) return res.writeHead(503, { 'Retry-After': '1' }).end();
      res.end('ok');
    });
    expect(ok(await client().get({ url: server.url, sourceId: 's1' })).body.toString()).toBe('ok');
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
  });

  it('hands the long Retry-After of a 503 to the job layer as it does a 429s, without trying again in place', async () => {
    const server = await serve((_req, res) => res.writeHead(503, 'Service Unavailable', { 'Retry-After': '3600' }).end());
    const err = await failure(client({ retries: 2 }).get({ url: server.url, sourceId: 's1' }));
    expect(err.code).toBe('CP_SOURCE_HTTP_STATUS');
    expect(err.message).toContain('HTTP 503 Service Unavailable (Retry-After 3600 s)');
    expect(err.retryAfterMs).toBe(3_600_000);
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('keeps credentials out of error messages', async () => {
    const server = await serve((_req, res) => res.writeHead(500).end());
    const { port } = new URL(server.url);
    const err = await failure(
      client({ retries: 0 }).get({ url: `http://user:hunter2pass@127.0.0.1:${port}/api?api_key=SUPERSECRET123&q=gallium`, sourceId: 's1' }),
    );
    expect(err.message).not.toContain('SUPERSECRET123');
    expect(err.message).not.toContain('hunter2pass');
    expect(err.message).toContain('q=gallium');
  });

  it('sends configured headers to the configured origin only', async () => {
    const other = await serve((_req, res) => res.end('moved'), '127.0.0.2');
    const server = await serve((_req, res) => res.writeHead(302, { Location: other.url }).end());
    await client().get({ url: server.url, sourceId: 's1', headers: { 'X-Api-Key': 'k-123456' } });
    expect(server.requests[0].headers['x-api-key']).toBe('k-123456');
    expect(other.requests[0].headers['x-api-key']).toBeUndefined();
  });

  it('keeps at most perHostConcurrency requests in flight to one host', async () => {
    let inFlight = 0;
    let peak = 0;
    const server = await serve((_req, res) => {
      peak = Math.max(peak, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 30);
    });
    const c = client({ perHostConcurrency: 2 });
    await Promise.all(Array.from({ length: 6 }, () => c.get({ url: server.url, sourceId: 's1' })));
    expect(peak).toBe(2);
    expect(server.requests).toHaveLength(6);
  });

  it('spaces request starts to one host by perHostIntervalMs', async () => {
    const times: number[] = [];
    const server = await serve((_req, res) => {
      times.push(Date.now());
      res.end('ok');
    });
    const c = client({ perHostIntervalMs: 150, perHostConcurrency: 4 });
    // The server sees a request when it arrives, not when it started: the first one to a host also opens the
    // connection (tens of ms on a busy machine), so it is sent first and the three spaced ones reuse it.
    await c.get({ url: server.url, sourceId: 's1' });
    await Promise.all(Array.from({ length: 3 }, () => c.get({ url: server.url, sourceId: 's1' })));
    const [, a, b, d] = times;
    // Unspaced, all three arrive within a few ms; the rest of the interval covers the arrival's own jitter.
    expect(b! - a!).toBeGreaterThanOrEqual(100);
    expect(d! - b!).toBeGreaterThanOrEqual(100);
    expect(d! - a!).toBeGreaterThanOrEqual(280);
  });

  it("starts a request's deadline when it gets a free connection to its host, not while it waits for one", async () => {
    const server = await serve(quickOrTrickle);
    const c = client({ perHostConcurrency: 1, retries: 0 });
    const slow = failure(c.get({ url: `${server.url}/slow`, sourceId: 'slow', timeoutMs: 600 }));
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    // Waits ~600 ms for the slot, longer than its own 300 ms timeout, and still has all of it once connected.
    const quick = await c.get({ url: `${server.url}/quick`, sourceId: 'quick', timeoutMs: 300 });
    expect(ok(quick).body.toString()).toBe('ok');
    expect((await slow).code).toBe('CP_SOURCE_TIMEOUT');
  });

  it('fails a request that waited too long for a free connection to its host with that reason, without sending it', async () => {
    const server = await serve(quickOrTrickle);
    const c = client({ perHostConcurrency: 1, retries: 0 }, { maxHostWaitMs: 300 });
    const slow = failure(c.get({ url: `${server.url}/slow`, sourceId: 'slow', timeoutMs: 1500 }));
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    const err = await failure(c.get({ url: `${server.url}/quick`, sourceId: 'quick', timeoutMs: 5000 }));
    expect(err.code).toBe('CP_SOURCE_HOST_BUSY');
    expect(err.message).toMatch(/waited 0\.3 s for a free connection to 127\.0\.0\.1:\d+/);
    expect(err.message).toContain('perHostConcurrency');
    expect(err.retryable).toBe(false);
    expect(server.requests.map((r) => r.path)).toEqual(['/slow']);
    expect((await slow).code).toBe('CP_SOURCE_TIMEOUT');
  });

  it('uses no proxy from the environment', async () => {
    const server = await serve((_req, res) => res.end('direct'));
    const saved = process.env.http_proxy;
    process.env.http_proxy = 'http://127.0.0.1:9';
    try {
      expect(ok(await client().get({ url: server.url, sourceId: 's1' })).body.toString()).toBe('direct');
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
    }
  });
});

describe('guarded agents', () => {
  async function connectVia(host: string, port: number): Promise<Error> {
    const agents = createGuardedAgents({ allowPrivateAddresses: false, connectTimeoutMs: 1000 });
    cleanups.push(() => agents.destroy());
    return new Promise<Error>((resolve) => {
      http.get({ host, port, agent: agents.httpAgent }, () => resolve(new Error('connected'))).on('error', resolve);
    });
  }

  it('refuse a literal private IP at connect time even when the URL check is bypassed', async () => {
    const server = await serve((_req, res) => res.end('x'));
    const err = await connectVia('127.0.0.1', Number(new URL(server.url).port));
    expect((err as { code?: string }).code).toBe('CP_SSRF_REFUSED');
    expect(server.requests).toHaveLength(0);
  });

  it('refuse a hostname whose DNS answer is private (the rebinding case) at connect time', async () => {
    const server = await serve((_req, res) => res.end('x'));
    const err = await connectVia('localhost', Number(new URL(server.url).port));
    expect((err as { code?: string }).code).toBe('CP_SSRF_REFUSED');
    expect(err.message).toContain('127.0.0.1');
    expect(server.requests).toHaveLength(0);
  });
});

describe('a source\'s Retry-After', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  it('reads delay-seconds and the three HTTP-date forms, all as GMT', async () => {
    const { parseRetryAfter } = await import('../../src/sources/http/retry-after.js');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 13:00:00 GMT', now)).toBe(3_600_000);
    expect(parseRetryAfter('Sunday, 29-Nov-26 13:00:00 GMT', now)).toBe(3_600_000);
    // asctime names no zone: Date.parse read it in the worker's local time.
    expect(parseRetryAfter('Sun Nov 29 13:00:00 2026', now)).toBe(3_600_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores what is not an HTTP date, instead of holding a source back by it', async () => {
    const { parseRetryAfter } = await import('../../src/sources/http/retry-after.js');
    for (const value of ['abc 2030', '2030-01-01', 'tomorrow', '1.5', '-5', 'Sun, 31 Feb 2027 13:00:00 GMT']) {
      expect(parseRetryAfter(value, now), value).toBeUndefined();
    }
  });
});

describe("a host's hold (Retry-After shared by every source on an origin)", () => {
  /** The hold store as the client sees it, kept in memory: the Redis one is tested in source-state.test.ts. */
  function memoryHolds() {
    const held = new Map<string, number>();
    const asked: Array<[string, number]> = [];
    const holds: HostHolds = {
      async check(origin) {
        const until = held.get(origin);
        return until !== undefined && until > Date.now() ? { notBefore: new Date(until), skipped: 1 } : null;
      },
      async hold(origin, waitMs) {
        asked.push([origin, waitMs]);
        held.set(origin, Date.now() + waitMs);
      },
    };
    return { holds, asked, held };
  }

  it('holds the host that answered a long Retry-After before its next request is sent', async () => {
    const host = await serve((req, res) => (req.url === '/limited' ? res.writeHead(429, { 'Retry-After': '3600' }).end() : res.end('ok')));
    const { holds, asked } = memoryHolds();
    // One request at a time to the host: the second waits for the first's slot, and must find the hold when it gets it.
    const c = client({ perHostConcurrency: 1, retries: 0 });
    const [first, second] = await Promise.allSettled([
      c.get({ url: `${host.url}/limited`, sourceId: 'a', hostHolds: holds }),
      c.get({ url: `${host.url}/other`, sourceId: 'b', hostHolds: holds }),
    ]);
    expect(asked).toEqual([[host.url, 3_600_000]]);
    expect((first as PromiseRejectedResult).reason).toBeInstanceOf(SourceFetchError);
    expect((second as PromiseRejectedResult).reason).toBeInstanceOf(HostHeldError);
    expect((second as PromiseRejectedResult).reason).toMatchObject({ origin: host.url });
    expect(host.requests.map((r) => r.path)).toEqual(['/limited']);
  });

  it('holds the origin that answered, not the one that redirected to it', async () => {
    const host = await serve((_req, res) => res.writeHead(429, { 'Retry-After': '3600' }).end());
    const redirector = await serve((_req, res) => res.writeHead(302, { Location: `${host.url}/limited` }).end());
    const { holds, asked } = memoryHolds();
    const err = await failure(client({ retries: 0 }).get({ url: `${redirector.url}/feed`, sourceId: 'a', hostHolds: holds }));
    expect(err.retryAfterMs).toBe(3_600_000);
    expect(asked).toEqual([[host.url, 3_600_000]]);
  });

  it('sends nothing to a held origin, at any hop, and still follows the hops before it', async () => {
    const host = await serve((_req, res) => res.end('ok'));
    const redirector = await serve((_req, res) => res.writeHead(301, { Location: `${host.url}/feed` }).end());
    const { holds, held } = memoryHolds();
    held.set(host.url, Date.now() + 60_000);
    const err = await client().get({ url: `${redirector.url}/old`, sourceId: 'moved', hostHolds: holds }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostHeldError);
    expect(redirector.requests).toHaveLength(1);
    expect(host.requests).toHaveLength(0);
  });

  it('holds no host for a Retry-After it waits out in place, nor for a short one on its last try', async () => {
    let calls = 0;
    const server = await serve((_req, res) => (++calls === 1 ? res.writeHead(429, { 'Retry-After': '1' }).end() : res.end('ok')));
    const waited = memoryHolds();
    expect(ok(await client().get({ url: server.url, sourceId: 's1', hostHolds: waited.holds })).body.toString()).toBe('ok');
    expect(waited.asked).toEqual([]);

    // The source's job is retried in seconds; holding the host would skip its neighbours until their next tick.
    const limited = await serve((_req, res) => res.writeHead(429, { 'Retry-After': '1' }).end());
    const ended = memoryHolds();
    const err = await failure(client({ retries: 0 }).get({ url: limited.url, sourceId: 's2', hostHolds: ended.holds }));
    expect(err.retryAfterMs).toBe(1000);
    expect(ended.asked).toEqual([]);
  });

  it("holds no host for a 503's Retry-After: one path's maintenance is not the host's word about this client", async () => {
    const down = await serve((_req, res) => res.writeHead(503, { 'Retry-After': '86400' }).end());
    const { holds, asked } = memoryHolds();
    const err = await failure(client({ retries: 0 }).get({ url: `${down.url}/api`, sourceId: 'api', hostHolds: holds }));
    expect(err.retryAfterMs).toBe(86_400_000);
    expect(asked).toEqual([]);
  });

  it("keeps the 429 and its wait when the hold cannot be written", async () => {
    const host = await serve((_req, res) => res.writeHead(429, { 'Retry-After': '3600' }).end());
    const broken: HostHolds = { check: async () => null, hold: async () => Promise.reject(new Error('Redis is down')) };
    const err = await failure(client({ retries: 0 }).get({ url: host.url, sourceId: 'a', hostHolds: broken }));
    expect(err.code).toBe('CP_SOURCE_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(3_600_000);
  });

  it('does not queue for a held host: a request behind a slow one is deferred at once', async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const host = await serve(async (_req, res) => {
      await slow;
      res.end('ok');
    });
    const { holds, held } = memoryHolds();
    const c = client({ perHostConcurrency: 1 });
    const first = c.get({ url: `${host.url}/slow`, sourceId: 'a', hostHolds: holds });
    await new Promise((resolve) => setTimeout(resolve, 100));
    held.set(host.url, Date.now() + 60_000);
    const startedAt = Date.now();
    const second = await c.get({ url: `${host.url}/other`, sourceId: 'b', hostHolds: holds }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(HostHeldError);
    // Refused at once, not after the slow request it would otherwise queue behind (it never ends by itself).
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    release();
    await first;
  });
});
