import { ApiStartError } from '../../api/errors.js';
import type { RunningApi } from '../../api/server.js';
import { createLogger } from '../../log.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { loadConfigOrReport, reloadConfigOrLog } from './shared.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run only the HTTP API, metrics, queue board and dashboard (no polling or sending)',
  help: `Usage: chokepoint serve [--config DIR] [--host ADDR] [--port N]

Serves, on settings.api.host:port (default 127.0.0.1:8787):
  /            the dashboard: latest alerts, risk index chart, source health, failed deliveries
  /api/...     the JSON API (README, "HTTP API"; OpenAPI at /openapi.json)
  /admin/queues  Bull Board over the poll, score, notify and digest queues
  /healthz /readyz /metrics  liveness, readiness, Prometheus (no token needed)
Everything else needs the token in $CHOKEPOINT_API_TOKEN (settings.api.tokenEnv): "Authorization: Bearer <token>",
or in a browser a sign-in form, Basic auth (any user, the token as password) or one visit to /?token=<token>.
Without a token the server only binds to loopback and serves loopback clients without authentication.
A worker serves the same API itself (settings.api.enabled); use serve for a separate API process. Its /metrics has
the queue, source and risk gauges; the pipeline counters are exposed by the workers that count them.
SIGHUP reloads the config; SIGINT/SIGTERM stop it.

Options:
  --host ADDR   address to bind (overrides settings.api.host)
  --port N      port to bind, 0 for any free one (overrides settings.api.port)

Exit codes: 0 clean shutdown, 1 invalid config or the address cannot be served, 2 usage error.`,
  options: { host: { type: 'string' }, port: { type: 'string' } },
  async run(args, io) {
    const portText = args.values.port as string | undefined;
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      io.stderr.write(`chokepoint serve: --port takes a number from 0 to 65535, not "${portText}"\n`);
      return EXIT.USAGE;
    }
    const config = loadConfigOrReport(args, io);
    if (!config) return EXIT.FAILURE;
    const log = createLogger({ level: io.env.LOG_LEVEL ?? config.settings.log.level });

    // SIGHUP's default action ends the process: handled from the start (ignored until the API listens and again
    // while it stops).
    let api: RunningApi | undefined;
    let stopping = false;
    const onReload = () => {
      if (!api || stopping) {
        log.info(`SIGHUP ${stopping ? 'during shutdown' : 'before the API listens'}: ignored`);
        return;
      }
      const next = reloadConfigOrLog(args, io, log);
      if (!next) return;
      api.updateConfig(next);
      log.info('config reloaded');
    };
    process.on('SIGHUP', onReload);
    try {
      try {
        const { startApiServer } = await import('../../api/server.js');
        api = await startApiServer({ config, log, env: io.env, host: args.values.host as string | undefined, port });
      } catch (err) {
        if (!(err instanceof ApiStartError)) throw err;
        io.stderr.write(`chokepoint serve: ${err.message}\n`);
        return EXIT.FAILURE;
      }
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      stopping = true;
      log.info({ signal }, 'shutdown requested');
      await api.close();
    } finally {
      process.off('SIGHUP', onReload);
    }
    log.info('API stopped');
    log.flush?.();
    return EXIT.OK;
  },
};
