import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { PACKAGE_ROOT } from '../paths.js';

/**
 * The dashboard: one HTML page, a stylesheet, four small ES modules and Chart.js's UMD build, read once at start. The files live
 * in src/api/static (shipped as they are: no front-end build step) and Chart.js comes from node_modules.
 */
const STATIC_DIR = path.join(PACKAGE_ROOT, 'src', 'api', 'static');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(file: string, type: string): Asset {
  const body = readFileSync(file);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

function chartJsPath(): string {
  // chart.js exports no package.json; its CommonJS entry sits beside the UMD build in dist/.
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return path.join(path.dirname(entry), 'chart.umd.min.js');
}

// Chart.js sets canvas sizes through the CSSOM, which style-src does not restrict; nothing else is inline.
const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function loadAssets(): Map<string, Asset> {
  return new Map([
    ['/', asset(path.join(STATIC_DIR, 'index.html'), 'text/html; charset=utf-8')],
    ['/assets/dashboard.css', asset(path.join(STATIC_DIR, 'dashboard.css'), 'text/css; charset=utf-8')],
    ...['dashboard.js', 'ui.js', 'risk-chart.js', 'alert-drawer.js'].map(
      (file) => [`/assets/${file}`, asset(path.join(STATIC_DIR, file), 'text/javascript; charset=utf-8')] as [string, Asset],
    ),
    ['/assets/favicon.svg', asset(path.join(STATIC_DIR, 'favicon.svg'), 'image/svg+xml')],
    ['/assets/chart.umd.min.js', asset(chartJsPath(), 'text/javascript; charset=utf-8')],
  ]);
}

export function dashboardRoutes(app: FastifyInstance): void {
  const assets = loadAssets();
  for (const [url, file] of assets) {
    app.get(url, async (request, reply) => {
      reply.header('etag', file.etag).header('cache-control', 'no-cache').type(file.type);
      if (url === '/') reply.header('content-security-policy', PAGE_CSP);
      if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
      return reply.send(file.body);
    });
  }
  app.get('/favicon.ico', async (_request, reply) => reply.redirect('/assets/favicon.svg', 301));
}

/** The page shown instead of a protected page without credentials: a token form (posts to /login). */
export function loginPage(next: string, failed: boolean, envName: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chokepoint · sign in</title><link rel="icon" href="/assets/favicon.svg"><link rel="stylesheet" href="/assets/dashboard.css"></head>
<body><main class="login card">
<h2>Chokepoint</h2>
<p class="card-sub">This server needs its API token (the value of <code>$${esc(envName)}</code>). It is kept as a session cookie on this browser for 30 days.</p>
${failed ? '<p class="err">That token is not right.</p>' : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${esc(next)}">
<input type="password" name="token" placeholder="API token" autocomplete="current-password" required autofocus aria-label="API token">
<button class="btn" type="submit">Sign in</button>
</form>
<p class="card-foot">Scripts use <code>Authorization: Bearer &lt;token&gt;</code>; a browser may also sign in with any user name and the token as password.</p>
</main></body></html>`;
}
