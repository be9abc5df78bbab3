import { parse as parseForm } from 'node:querystring';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { ChokepointError } from '../errors.js';
import { authHook, clearedSessionCookie, overHttps, safeNext, sessionCookie, tokenMatches } from './auth.js';
import { registerQueueUi } from './bull-board.js';
import type { ApiContext } from './context.js';
import { dashboardRoutes, loginPage } from './dashboard.js';
import { BODY_LIMIT_BYTES, badRequest, errorBody, FORM_LIMIT_BYTES, fromFrameworkError, HttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { alertRoutes } from './routes/alerts.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { riskRoutes } from './routes/risk.js';
import { sourceRoutes } from './routes/sources.js';
import { statusRoutes } from './routes/status.js';

/** How long a client may hold a connection; tests shorten them. */
export interface ApiTimeouts {
  /** A whole request, headers and body: a client trickling its headers (slow loris) is cut with a 408. */
  requestMs: number;
  /** A socket with no traffic either way (a client that stops reading the answer). */
  idleMs: number;
  /**
   * An idle keep-alive socket between requests: above the 60 s idle timeout of common load balancers and proxies, so
   * they never reuse a socket this server is closing.
   */
  keepAliveMs: number;
  /** How often Node checks open requests against requestMs (its default, 30 s, would let one run for up to a minute). */
  checkIntervalMs: number;
}

export const API_TIMEOUTS: ApiTimeouts = { requestMs: 30_000, idleMs: 60_000, keepAliveMs: 72_000, checkIntervalMs: 5_000 };

/** The fastify app with every route, not yet listening (tests use it with inject or listen on port 0). */
export async function buildApp(ctx: ApiContext, options: { timeouts?: Partial<ApiTimeouts> } = {}): Promise<FastifyInstance> {
  const timeouts = { ...API_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'api' }) as FastifyBaseLogger,
    // Per-request lines go out at debug from our own hook, without the query string (a ?token= login carries a secret).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: { headersTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkIntervalMs },
    // Keep-alive sockets must not hold the worker's shutdown open.
    forceCloseConnections: true,
    // Read once: fastify builds its request class from it, hence a restart-only setting.
    trustProxy: ctx.config().settings.api.trustProxy,
    // Errors Fastify answers before any route runs (a path that does not percent-decode) get our shape too.
    frameworkErrors: (err, _request, reply) => {
      const known = fromFrameworkError(err) ?? badRequest(err.message);
      // The option's reply is typed for any route generics; this answer needs none of them.
      void (reply as unknown as FastifyReply).code(known.status).send(errorBody(known));
    },
  });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT_BYTES }, (_req, body, done) => {
    done(null, parseForm(body as string));
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    // request.ip is the proxy's address unless settings.api.trustProxy names that proxy.
    request.log.debug({ method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime), ip: request.ip }, 'api request');
  });
  app.setErrorHandler((thrown, request, reply) => {
    const err = thrown instanceof Error ? thrown : new Error(String(thrown));
    const known = err instanceof HttpError ? err : fromFrameworkError(err, request.headers['content-type']);
    if (known) return reply.code(known.status).send(errorBody(known));
    request.log.error({ err, path: request.url.split('?')[0] }, 'API request failed');
    const code = err instanceof ChokepointError ? err.code : 'CP_API_INTERNAL';
    return reply.code(500).send({ error: { code, message: 'internal error; see the server log' } });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: { code: 'CP_API_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }));

  const envName = ctx.auth.envName;
  app.addHook('onRequest', authHook(ctx.auth, (next, failed) => loginPage(next, failed, envName)));

  app.post<{ Body: Record<string, unknown> | undefined }>('/login', async (request, reply) => {
    const next = safeNext(request.body?.next);
    if (ctx.auth.kind === 'loopback') return reply.redirect(next, 303);
    if (!tokenMatches(ctx.auth.token, typeof request.body?.token === 'string' ? request.body.token : undefined)) {
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage(next, true, envName));
    }
    return reply.header('set-cookie', sessionCookie(ctx.auth.token, overHttps(request))).redirect(next, 303);
  });
  app.get('/logout', async (request, reply) => reply.header('set-cookie', clearedSessionCookie(overHttps(request))).redirect('/', 303));

  healthRoutes(app, ctx);
  metricsRoutes(app, ctx);
  statusRoutes(app, ctx);
  alertRoutes(app, ctx);
  riskRoutes(app, ctx);
  sourceRoutes(app, ctx);
  deliveryRoutes(app, ctx);
  app.get('/openapi.json', async () => openApiDocument(ctx.version));
  dashboardRoutes(app);
  await registerQueueUi(app, ctx.queues);
  return app;
}
