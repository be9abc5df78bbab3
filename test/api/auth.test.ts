import { request } from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isLoopbackHost, resolveAuth, safeNext, sessionValue } from '../../src/api/auth.js';
import { ApiStartError } from '../../src/api/errors.js';
import { getJson, type SeededApi, startTestApi, TOKEN } from './seed.js';

function rawGet(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends a request as written (fetch and node:http normalise or refuse odd targets) and returns the raw answer. */
function rawRequest(url: string, head: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname, () => socket.write(`${head}\r\n\r\n`));
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const split = out.indexOf('\r\n\r\n');
      resolve({ status: Number(out.split(' ')[1]), headers: out.slice(0, split), body: out.slice(split + 4) });
    });
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const html = { accept: 'text/html,application/xhtml+xml' };

/** The client address the server logged for requests to this path (its debug "api request" lines, in order). */
async function loggedIps(t: SeededApi, path: string, count: number): Promise<string[]> {
  // The line is written when the response has gone out, so it may trail the client's read by a tick.
  return vi.waitFor(() => {
    const ips = t
      .logs()
      .map((line) => JSON.parse(line) as { msg?: string; path?: string; ip?: string })
      .filter((entry) => entry.msg === 'api request' && entry.path === path)
      .map((entry) => entry.ip ?? '(none)');
    expect(ips.length).toBeGreaterThanOrEqual(count);
    return ips;
  });
}

/** Signs in by link and by form, and signs out, each with these extra headers; returns the three Set-Cookie values. */
async function cookiesSetWith(t: SeededApi, headers: Record<string, string>): Promise<{ link: string; form: string; logout: string }> {
  const link = await getJson(`${t.url}/?token=${TOKEN}`, { headers: { ...html, ...headers } });
  const form = await getJson(`${t.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token: TOKEN, next: '/' }).toString() });
  const logout = await getJson(`${t.url}/logout`, { headers });
  for (const answer of [link, form, logout]) expect(answer.status).toBe(303);
  return { link: link.headers.get('set-cookie')!, form: form.headers.get('set-cookie')!, logout: logout.headers.get('set-cookie')! };
}

const SESSION_COOKIE_SHAPE = /^chokepoint_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/;
const SECURE_SESSION_COOKIE_SHAPE = /^chokepoint_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/;

describe('where the API may listen', () => {
  it('treats only loopback names and addresses as loopback', () => {
    for (const host of ['127.0.0.1', '127.8.9.1', '::1', '[::1]', 'localhost', 'api.localhost']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.org', 'localhost.example.org', '']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses to listen beyond loopback without a token, naming the variable to set', () => {
    const refuse = () => resolveAuth({ host: '0.0.0.0', tokenEnv: 'CHOKEPOINT_API_TOKEN' }, {});
    expect(refuse).toThrow(ApiStartError);
    expect(refuse).toThrow(/refusing to serve the API on 0\.0\.0\.0 without a token: set \$CHOKEPOINT_API_TOKEN/);
    expect(resolveAuth({ host: '0.0.0.0', tokenEnv: 'MY_TOKEN' }, { MY_TOKEN: 'abc-def-ghi-jkl' }).kind).toBe('token');
    expect(resolveAuth({ host: '127.0.0.1', tokenEnv: 'CHOKEPOINT_API_TOKEN' }, {}).kind).toBe('loopback');
  });

  it('does not start (and binds nothing) when asked for 0.0.0.0 without a token', async () => {
    await expect(startTestApi({ label: 'auth-bind', host: '0.0.0.0' })).rejects.toMatchObject({ code: 'CP_API_TOKEN_REQUIRED' });
  });

  it('warns at start about a token short enough to guess, without showing it', async () => {
    const short = await startTestApi({ label: 'auth-short', token: 'hunter2pw' });
    const long = await startTestApi({ label: 'auth-long', token: TOKEN });
    try {
      const warning = short.logs().find((l) => l.includes('shorter than 16 characters'));
      expect(warning).toBeDefined();
      expect(warning).not.toContain('hunter2pw');
      expect(long.logs().some((l) => l.includes('shorter than 16 characters'))).toBe(false);
    } finally {
      await short.close();
      await long.close();
    }
  });
});

describe('where a browser is sent after signing in', () => {
  it('keeps paths of this server, with their query and fragment', () => {
    expect(safeNext('/admin/queues?x=1')).toBe('/admin/queues?x=1');
    expect(safeNext('/#alert=a-sm-ban')).toBe('/#alert=a-sm-ban');
    expect(safeNext('/assets/../admin/queues')).toBe('/admin/queues');
  });

  it('sends anything a browser could read as another host to "/"', () => {
    // Browsers drop tabs and newlines from a Location and read a backslash as a slash.
    for (const next of ['/\t/evil.example', '/\n/evil.example', '/\r\n/evil.example', '/\\/evil.example', '/\\evil.example', '//evil.example', '///evil.example', '/.//evil.example', '/..//evil.example', 'https://evil.example/', 'javascript:alert(1)', '', undefined, ['/x']]) {
      expect(safeNext(next), JSON.stringify(next)).toBe('/');
    }
  });
});

describe('with a token', () => {
  let t: SeededApi;
  beforeAll(async () => {
    t = await startTestApi({ label: 'auth-token', token: TOKEN });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves health, readiness and metrics without a token', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await getJson(t.url + path)).status, path).toBe(200);
  });

  it('answers 401 with a Bearer challenge to API calls without a token or with a wrong one', async () => {
    const none = await getJson(`${t.url}/api/alerts`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.body.error).toMatchObject({ code: 'CP_API_UNAUTHORIZED', message: expect.stringContaining('$CHOKEPOINT_API_TOKEN') });
    expect((await getJson(`${t.url}/api/alerts`, { token: `${TOKEN}x` })).status).toBe(401);
    expect((await getJson(`${t.url}/api/alerts`, { token: TOKEN.slice(0, -1) })).status).toBe(401);
    expect((await getJson(`${t.url}/openapi.json`)).status).toBe(401);
  });

  it('accepts the token as Bearer, as a Basic password, or as a Basic user name with no password', async () => {
    expect((await getJson(`${t.url}/api/alerts`, { token: TOKEN })).status).toBe(200);
    expect((await getJson(`${t.url}/api/alerts`, { headers: { authorization: basic('ops', TOKEN) } })).status).toBe(200);
    expect((await getJson(`${t.url}/api/alerts`, { headers: { authorization: basic(TOKEN, '') } })).status).toBe(200);
    expect((await getJson(`${t.url}/api/alerts`, { headers: { authorization: basic('ops', 'wrong') } })).status).toBe(401);
  });

  it('keeps the queue board behind the same token', async () => {
    expect((await getJson(`${t.url}/admin/queues`)).status).toBe(401);
    expect((await getJson(`${t.url}/admin/queues/api/queues`)).status).toBe(401);
    const board = await getJson(`${t.url}/admin/queues`, { token: TOKEN });
    expect(board.status).toBe(200);
    expect(board.body).toContain('Chokepoint queues');
    const queues = await getJson(`${t.url}/admin/queues/api/queues?activeQueue=notify&status=latest&page=1`, { token: TOKEN });
    expect(queues.status).toBe(200);
    expect(queues.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['digest', 'notify', 'poll', 'score']);
  });

  it('hands the queue board its requests whole: a JSON body, the query, the status of what it answers', async () => {
    // The board runs as an app of its own, loaded on the first visit; what it answers must reach the browser as is.
    const added = await getJson(`${t.url}/admin/queues/api/queues/digest/add`, {
      token: TOKEN,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'board-check', data: { channelId: 'nowhere' }, options: { delay: 3_600_000 } }),
    });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ job: { name: 'board-check', data: { channelId: 'nowhere' } }, status: 'delayed' });
    const delayed = await getJson(`${t.url}/admin/queues/api/queues?activeQueue=digest&status=delayed&page=1`, { token: TOKEN });
    const digest = delayed.body.queues.find((q: { name: string }) => q.name === 'digest');
    expect(digest.jobs.map((j: { name: string }) => j.name)).toContain('board-check');
    const cleaned = await getJson(`${t.url}/admin/queues/api/queues/digest/clean/delayed`, { token: TOKEN, method: 'PUT' });
    expect(cleaned.status).toBeLessThan(300);
    expect((await getJson(`${t.url}/admin/queues/api/queues/no-such-queue/pause`, { token: TOKEN, method: 'PUT' })).status).toBe(404);
    const page = await getJson(`${t.url}/admin/queues/`, { token: TOKEN });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const head = await fetch(`${t.url}/admin/queues/`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(Buffer.byteLength(page.body as string));
  });

  it('shows a sign-in page with a Basic challenge to a browser without credentials', async () => {
    const page = await getJson(`${t.url}/`, { headers: html });
    expect(page.status).toBe(401);
    expect(page.headers.get('www-authenticate')).toMatch(/^Basic realm="Chokepoint"/);
    expect(page.body).toContain('<form method="post" action="/login">');
  });

  it('trades ?token= for an HttpOnly session cookie, drops it from the URL, and accepts the cookie afterwards', async () => {
    const login = await getJson(`${t.url}/admin/queues?token=${TOKEN}&x=1`, { headers: html });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/queues?x=1');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^chokepoint_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // The cookie holds a MAC of the token, never the token itself.
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0];
    expect((await getJson(`${t.url}/`, { headers: { ...html, cookie: session } })).status).toBe(200);
    expect((await getJson(`${t.url}/api/status`, { headers: { cookie: session } })).status).toBe(200);
    expect((await getJson(`${t.url}/api/status`, { headers: { cookie: 'chokepoint_session=forged' } })).status).toBe(401);
    expect((await getJson(`${t.url}/?token=wrong`, { headers: html })).status).toBe(401);
  });

  it('treats a session cookie that cannot be decoded as no session: 401, and the sign-in page for a browser', async () => {
    const cookie = 'chokepoint_session=%E0%A4%A';
    const api = await getJson(`${t.url}/api/status`, { headers: { cookie } });
    expect(api.status).toBe(401);
    expect(api.body.error.code).toBe('CP_API_UNAUTHORIZED');
    const page = await getJson(`${t.url}/`, { headers: { ...html, cookie } });
    expect(page.status).toBe(401);
    expect(page.body).toContain('<form method="post" action="/login">');
    expect(t.logs().join('\n')).not.toMatch(/URIError|URI malformed/);
  });

  it('signs in through the form, refusing a wrong token and an off-site redirect', async () => {
    const form = (token: string, next: string) =>
      getJson(`${t.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, next }).toString() });
    const ok = await form(TOKEN, '/admin/queues');
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin/queues');
    expect(ok.headers.get('set-cookie')).toContain(`chokepoint_session=${sessionValue(TOKEN)}`);
    expect((await form(TOKEN, '//evil.example/')).headers.get('location')).toBe('/');
    expect((await form(TOKEN, '/\t/evil.example')).headers.get('location')).toBe('/');
    const wrong = await form('nope', '/');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('That token is not right');
  });

  it('refuses a cross-site POST carried by the session cookie, but not one with a Bearer token', async () => {
    const session = `chokepoint_session=${sessionValue(TOKEN)}`;
    const crossSite = await getJson(`${t.url}/api/deliveries/x/retry`, { method: 'POST', headers: { cookie: session, origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe('CP_API_CROSS_SITE');
    const sameSite = await getJson(`${t.url}/api/deliveries/x/retry`, { method: 'POST', headers: { cookie: session, origin: t.url } });
    expect(sameSite.status).toBe(404);
    const bearer = await getJson(`${t.url}/api/deliveries/x/retry`, { method: 'POST', token: TOKEN, headers: { origin: 'https://evil.example' } });
    expect(bearer.status).toBe(404);
  });

  it('answers request targets that are no URL ("//[", "//x:99999/") like any unknown path: no 500, no error logged', async () => {
    for (const target of ['//[', '//a:b@[x', '//x:99999/']) {
      const head = (extra: string) => `GET ${target}${extra} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nConnection: close`;
      const anonymous = await rawRequest(t.url, head(''));
      expect(anonymous.status, target).toBe(401);
      expect(anonymous.body).toContain('<form method="post" action="/login">');
      const signIn = await rawRequest(t.url, head(`?token=${TOKEN}`));
      expect(signIn.status, target).toBe(303);
      expect(signIn.headers).toMatch(/\r\nlocation: \/\r\n/i);
      const api = await rawRequest(t.url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close`);
      expect(api.status, target).toBe(404);
      expect(JSON.parse(api.body).error.code).toBe('CP_API_NOT_FOUND');
    }
    expect(t.logs().join('\n')).not.toMatch(/API request failed|Invalid URL/);
  });

  it('ignores X-Forwarded-Proto and X-Forwarded-For from any client while api.trustProxy is off', async () => {
    const forged = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
    const cookies = await cookiesSetWith(t, forged);
    expect(cookies.link).toMatch(SESSION_COOKIE_SHAPE);
    expect(cookies.form).toMatch(SESSION_COOKIE_SHAPE);
    expect(cookies.logout).not.toContain('Secure');
    await getJson(`${t.url}/api/status`, { token: TOKEN, headers: forged });
    expect(await loggedIps(t, '/api/status', 1)).not.toContain('203.0.113.7');
    expect((await loggedIps(t, '/api/status', 1)).at(-1)).toBe('127.0.0.1');
  });

  it('never writes the token to the log, even when it came in a URL', async () => {
    await getJson(`${t.url}/?token=${TOKEN}`, { headers: html });
    await getJson(`${t.url}/api/alerts?cursor=bad`, { token: TOKEN });
    expect(t.logs().join('\n')).not.toContain(TOKEN);
    expect(t.logs().some((line) => line.includes('api request'))).toBe(true);
  });
});

describe('without a token, on loopback', () => {
  let t: SeededApi;
  beforeAll(async () => {
    t = await startTestApi({ label: 'auth-open' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the API and the dashboard without credentials and says so in the log', async () => {
    expect((await getJson(`${t.url}/api/alerts`)).status).toBe(200);
    expect((await getJson(`${t.url}/`, { headers: html })).status).toBe(200);
    expect((await getJson(`${t.url}/admin/queues`)).status).toBe(200);
    expect(t.logs().join('\n')).toMatch(/CHOKEPOINT_API_TOKEN is not set: the API, dashboard and queue board are served without a token, to loopback only/);
  });

  it('refuses requests whose Host is not a loopback name (DNS rebinding), metrics and readiness included, except the liveness probe', async () => {
    // fetch() will not send a Host of our choosing; node:http will, as a rebinding browser effectively does.
    for (const path of ['/api/alerts', '/metrics', '/readyz', '/login']) {
      const rebound = await rawGet(`${t.url}${path}`, 'attacker.example:8787');
      expect(rebound.status, path).toBe(403);
      expect(JSON.parse(rebound.body).error.code).toBe('CP_API_HOST_REFUSED');
    }
    expect((await rawGet(`${t.url}/healthz`, 'attacker.example:8787')).status).toBe(200);
    expect((await rawGet(`${t.url}/metrics`, '127.0.0.1:8787')).status).toBe(200);
    expect((await rawGet(`${t.url}/api/alerts`, 'localhost:8787')).status).toBe(200);
  });

  it('signs in (a no-op) back to a path of this server only: a tab or backslash in next cannot reach another host', async () => {
    for (const next of ['/\t/evil.example', '/\\/evil.example', '/.//evil.example']) {
      const login = await getJson(`${t.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ next }).toString() });
      expect(login.status).toBe(303);
      expect(login.headers.get('location'), JSON.stringify(next)).toBe('/');
    }
  });

  it('refuses cross-site state changes from a browser page', async () => {
    const post = await getJson(`${t.url}/api/deliveries/x/retry`, { method: 'POST', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(post.status).toBe(403);
    expect((await getJson(`${t.url}/api/deliveries/x/retry`, { method: 'POST' })).status).toBe(404);
  });
});

describe('behind a TLS-terminating reverse proxy (api.trustProxy)', () => {
  let proxied: SeededApi;
  let elsewhere: SeededApi;
  beforeAll(async () => {
    // The tests connect from 127.0.0.1, so they play the proxy of the first server and a stranger to the second.
    proxied = await startTestApi({ label: 'auth-proxy', token: TOKEN, settings: 'api: { trustProxy: [127.0.0.1] }\n' });
    elsewhere = await startTestApi({ label: 'auth-proxy-other', token: TOKEN, settings: 'api: { trustProxy: [10.0.0.0/8] }\n' });
  });
  afterAll(async () => {
    await proxied?.close();
    await elsewhere?.close();
  });

  it('marks the session cookie Secure, still HttpOnly, SameSite=Strict and Path=/, when the proxy forwards an HTTPS request', async () => {
    const cookies = await cookiesSetWith(proxied, { 'x-forwarded-proto': 'https' });
    expect(cookies.link).toMatch(SECURE_SESSION_COOKIE_SHAPE);
    expect(cookies.form).toMatch(SECURE_SESSION_COOKIE_SHAPE);
    expect(cookies.logout).toBe('chokepoint_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure');
    const session = cookies.form.split(';')[0];
    expect((await getJson(`${proxied.url}/api/status`, { headers: { cookie: session, 'x-forwarded-proto': 'https' } })).status).toBe(200);
  });

  it('leaves Secure off for a request the proxy received over plain HTTP', async () => {
    for (const headers of [{ 'x-forwarded-proto': 'http' }, {}] as Array<Record<string, string>>) {
      const cookies = await cookiesSetWith(proxied, headers);
      expect(cookies.link, JSON.stringify(headers)).toMatch(SESSION_COOKIE_SHAPE);
      expect(cookies.form).toMatch(SESSION_COOKIE_SHAPE);
      expect(cookies.logout).not.toContain('Secure');
    }
  });

  it("logs the client's address as the proxy forwards it, not the proxy's, nor one the client wrote in front of it", async () => {
    await getJson(`${proxied.url}/api/alerts`, { token: TOKEN, headers: { 'x-forwarded-for': '203.0.113.7' } });
    await getJson(`${proxied.url}/api/alerts`, { token: TOKEN, headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.8' } });
    expect(await loggedIps(proxied, '/api/alerts', 2)).toEqual(['203.0.113.7', '203.0.113.8']);
  });

  it('ignores forwarded headers from a peer that is not one of the listed proxies', async () => {
    const forged = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' };
    const cookies = await cookiesSetWith(elsewhere, forged);
    expect(cookies.link).toMatch(SESSION_COOKIE_SHAPE);
    expect(cookies.form).toMatch(SESSION_COOKIE_SHAPE);
    expect(cookies.logout).not.toContain('Secure');
    await getJson(`${elsewhere.url}/api/alerts`, { token: TOKEN, headers: forged });
    expect(await loggedIps(elsewhere, '/api/alerts', 1)).toEqual(['127.0.0.1']);
  });
});
