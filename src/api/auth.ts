import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { registerSecret } from '../secrets.js';
import { ApiStartError } from './errors.js';

/**
 * Who may use the API. With a token (from the environment variable named by settings.api.tokenEnv) every route but
 * health, readiness, metrics and static assets needs it. Without one the API is served to loopback only: the server
 * refuses to listen anywhere else, and requests whose Host is not a loopback name are refused too (a DNS-rebinding
 * page would otherwise reach it through the user's browser).
 */
export type AuthMode = { kind: 'token'; token: string; envName: string } | { kind: 'loopback'; envName: string };

export const SESSION_COOKIE = 'chokepoint_session';
const SESSION_MAX_AGE_SECONDS = 30 * 86_400;
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/login', '/logout', '/favicon.ico']);

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(bare);
  return false;
}

/** Decides how requests are authenticated; throws when the API would listen beyond loopback without a token. */
export function resolveAuth(api: { host: string; tokenEnv: string }, env: NodeJS.ProcessEnv): AuthMode {
  const token = env[api.tokenEnv]?.trim();
  if (token) {
    registerSecret(token);
    return { kind: 'token', token, envName: api.tokenEnv };
  }
  if (!isLoopbackHost(api.host)) {
    throw new ApiStartError(
      'CP_API_TOKEN_REQUIRED',
      `refusing to serve the API on ${api.host} without a token: set $${api.tokenEnv} (e.g. \`openssl rand -hex 32\`), ` +
        'or bind settings.api.host to 127.0.0.1',
    );
  }
  return { kind: 'loopback', envName: api.tokenEnv };
}

/** Constant-time comparison (of fixed-length digests, so the token's length does not leak either). */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** The cookie carries a MAC of the token rather than the token, so the browser's cookie jar never holds the secret. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('chokepoint-dashboard-session-v1').digest('base64url');
}

type Credential = { via: 'bearer' | 'basic' | 'cookie'; value: string };

function credentialsOf(request: FastifyRequest): Credential[] {
  const out: Credential[] = [];
  const header = request.headers.authorization ?? '';
  const [scheme, rest = ''] = header.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme) && rest) out.push({ via: 'bearer', value: rest.trim() });
  if (/^basic$/i.test(scheme) && rest) {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // Any user name with the token as password; `curl -u TOKEN:` sends the token as the user name.
    out.push({ via: 'basic', value: password || user });
  }
  const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (cookie) out.push({ via: 'cookie', value: cookie });
  return out;
}

/** The value of a cookie, or undefined when it is absent or not decodable (a client sent garbage: no session). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Whether a browser sent this request from another site (CSRF): Origin or Sec-Fetch-Site say so. */
function crossSite(request: FastifyRequest): boolean {
  if (request.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = request.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

function wantsHtml(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0];
  if (path.startsWith('/api/') || path === '/openapi.json' || path.startsWith('/admin/queues/api/')) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

/**
 * Whether the browser reached us over HTTPS: said by the socket, or by X-Forwarded-Proto only when the peer is a proxy
 * that settings.api.trustProxy vouches for (fastify ignores the header from anyone else).
 */
export function overHttps(request: FastifyRequest): boolean {
  return request.protocol.toLowerCase() === 'https';
}

/** The session cookie. Secure only over HTTPS: over plain http a browser would drop it and the sign-in would loop. */
export function sessionCookie(token: string, secure: boolean): string {
  return cookie(sessionValue(token), SESSION_MAX_AGE_SECONDS, secure);
}

/** Ends the session: the browser finds the cookie to drop by name and Path, so those match; Secure over HTTPS likewise. */
export function clearedSessionCookie(secure: boolean): string {
  return cookie('', 0, secure);
}

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

const NEXT_BASE = 'http://chokepoint.invalid';

/**
 * A same-origin path (with query and fragment) to go back to after login, else "/": never an open redirect. Browsers
 * drop tabs and newlines from a Location and read a backslash as "/", so "/<TAB>/evil.example" would become //evil.example:
 * such values are refused outright, and the rest is what a URL parser makes of it against our own origin.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(next)) return '/';
  let url: URL;
  try {
    url = new URL(next, NEXT_BASE);
  } catch {
    return '/';
  }
  // "/.//evil.example" parses to the path "//evil.example", which a browser reads as another host.
  if (url.origin !== NEXT_BASE || url.pathname.startsWith('//')) return '/';
  return url.pathname + url.search + url.hash;
}

/**
 * The path and query of a request target without its token parameter. Split by hand: the target is a path, and URL
 * parsers read one starting with "//" as a host ("//[" throws, "//api/x" loses "/api").
 */
export function targetWithoutToken(target: string): string {
  const mark = target.indexOf('?');
  if (mark < 0) return target;
  const params = new URLSearchParams(target.slice(mark + 1));
  params.delete('token');
  const query = params.toString();
  return query ? `${target.slice(0, mark)}?${query}` : target.slice(0, mark);
}

/** The onRequest hook enforcing the mode; pages get a login page and a Basic challenge, API clients JSON. */
export function authHook(mode: AuthMode, renderLogin: (next: string, failed: boolean) => string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0];
    const isPublic = PUBLIC_PATHS.has(path) || path.startsWith('/assets/');
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(request.method);

    if (mode.kind === 'loopback') {
      const host = hostnameOf(request.headers.host);
      // Every path but the bare liveness probe: /metrics and /readyz name sources, watchlists and queue depths, which a
      // page using DNS rebinding must not read from an operator's workstation either.
      if (path !== '/healthz' && !isLoopbackHost(host)) {
        return reply.code(403).send(error('CP_API_HOST_REFUSED', `this API has no token ($${mode.envName} is unset) and answers only to loopback names, not "${host}"`));
      }
      if (unsafe && crossSite(request)) return reply.code(403).send(error('CP_API_CROSS_SITE', 'cross-site request refused'));
      return;
    }
    if (isPublic) return;

    const query = request.query as Record<string, unknown> | undefined;
    if (request.method === 'GET' && typeof query?.token === 'string' && wantsHtml(request)) {
      // Browser login by link: trade the token for a session cookie and drop it from the address bar.
      if (!tokenMatches(mode.token, query.token)) return sendUnauthorized(request, reply, true);
      return reply.code(303).header('set-cookie', sessionCookie(mode.token, overHttps(request))).header('location', safeNext(targetWithoutToken(request.url))).send();
    }
    const expectedSession = sessionValue(mode.token);
    const accepted = credentialsOf(request).find((c) => (c.via === 'cookie' ? tokenMatches(expectedSession, c.value) : tokenMatches(mode.token, c.value)));
    if (!accepted) return sendUnauthorized(request, reply, false);
    // Cookies and Basic credentials ride along with any request the browser makes: refuse them cross-site.
    if (unsafe && accepted.via !== 'bearer' && crossSite(request)) return reply.code(403).send(error('CP_API_CROSS_SITE', 'cross-site request refused'));
  };

  function sendUnauthorized(request: FastifyRequest, reply: FastifyReply, failed: boolean) {
    if (wantsHtml(request)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Basic realm="Chokepoint", charset="UTF-8"')
        .type('text/html; charset=utf-8')
        .send(renderLogin(targetWithoutToken(request.url), failed));
    }
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="Chokepoint"')
      .send(error('CP_API_UNAUTHORIZED', `missing or invalid token: send "Authorization: Bearer <token>" with the value of $${mode.envName}`));
  }
}

function hostnameOf(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  return hostHeader.replace(/:\d+$/, '');
}

function error(code: string, message: string) {
  return { error: { code, message } };
}
