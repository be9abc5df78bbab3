import { ApiStartError } from '../../api/errors.js';
import type { RunningApi } from '../../api/server.js';
import { type ConfigWatch, watchConfigDir } from '../../config/watch.js';
import { createLogger } from '../../log.js';
import { ALL_ROLES, type Role, type RunningWorker, startWorker } from '../../worker/start.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { resolveConfigDir } from '../../config/load.js';
import { loadConfigOrReport, reloadConfigOrLog } from './shared.js';

/** The worker's roles plus "api": the HTTP server, which runs in the worker process but is no pipeline stage. */
const ROLES: Array<Role | 'api'> = [...ALL_ROLES, 'api'];

export const workerCommand: Command = {
  name: 'worker',
  summary: 'Run the long-lived worker: schedules, polling, scoring and notifications on BullMQ',
  help: `Usage: chokepoint worker [--config DIR] [--role scheduler,poll,score,notify,api] [--watch-config]

SIGHUP re-reads and re-validates the config directory and applies it without losing in-flight jobs;
an invalid new config is logged in full and the old one stays. With --watch-config, a change of what the
directory's YAML files say does the same once it has settled (a save, a git pull, a Kubernetes ConfigMap update). A SIGHUP while the worker waits for Redis is
applied once it runs; one during shutdown is ignored. The redis, log level, api, worker, retention, delivery
retry, story, source health and riskIndex settings take effect only on restart (a reload names those changed).
Runs until SIGINT or SIGTERM, then stops scheduling, finishes in-flight jobs (forcing after
settings.worker.shutdownTimeoutMs) and exits 0. Any number of workers may share one Redis: each
schedule tick becomes one poll job whatever the number of workers.
Redis is $REDIS_URL, else settings.yaml redis.url, else redis://127.0.0.1:6379. While Redis is down
the worker logs once, retries with backoff and carries on when it returns.

With the api role (and settings.api.enabled) the worker also serves the dashboard, JSON API, queue board and
/healthz, /readyz, /metrics on settings.api.host:port (default 127.0.0.1:8787; see chokepoint serve --help).
Run one process per host with the api role, or give each its own settings.api.port.

Options:
  --role LIST       comma-separated roles to run (default: all): ${ROLES.join(', ')}
  --watch-config    reload when the config files change, as on SIGHUP

Exit codes: 0 clean shutdown, 1 invalid config or the API address cannot be served, 2 usage error.`,
  options: { role: { type: 'string' }, 'watch-config': { type: 'boolean' } },
  async run(args, io) {
    const config = loadConfigOrReport(args, io);
    if (!config) return EXIT.FAILURE;
    const roles = parseRoles(args.values.role as string | undefined);
    if (!roles) {
      io.stderr.write(`chokepoint worker: --role takes a comma-separated list of: ${ROLES.join(', ')}\n`);
      return EXIT.USAGE;
    }
    const log = createLogger({ level: io.env.LOG_LEVEL ?? config.settings.log.level });
    for (const inactive of config.inactiveChannels) log.warn({ channelId: inactive.id, reason: inactive.reason }, 'channel inactive');

    // SIGHUP's default action ends the process, so it is handled from here to the end: deferred while the worker
    // starts (it may wait for Redis for long), ignored once it stops.
    let phase: 'starting' | 'running' | 'stopping' = 'starting';
    let reloadDeferred: string | undefined;
    let api: RunningApi | undefined;
    let running: RunningWorker | undefined;
    let reloading = Promise.resolve();
    const reload = async (why: string) => {
      if (phase !== 'running') return;
      log.info(`${why}: reloading config`);
      const next = reloadConfigOrLog(args, io, log);
      if (!next) return;
      await running?.reload(next);
      // The API shows the config the worker runs, so it gets only one the worker accepted.
      api?.updateConfig(next);
      if (!running) log.info('config reloaded');
    };
    // One reload at a time: a second SIGHUP waits for the first to be applied.
    const queueReload = (why: string) =>
      (reloading = reloading.then(() => reload(why)).catch((err) => log.error({ err }, 'config reload failed; keeping the old config')));
    const onHangup = (why: string) => {
      if (phase === 'stopping') log.info(`${why} during shutdown: ignored`);
      else if (phase === 'starting') {
        reloadDeferred = why;
        log.info(`${why} before the worker is up: the config will be read again once it runs`);
      } else queueReload(why);
    };
    const onSighup = () => onHangup('SIGHUP');
    process.on('SIGHUP', onSighup);
    let configWatch: ConfigWatch | undefined;
    if (args.values['watch-config']) {
      const dir = resolveConfigDir(args.values.config as string | undefined, io.env);
      configWatch = watchConfigDir(dir, () => onHangup('config files changed'), {
        onError: (err, during) =>
          during === 'watch'
            ? log.warn({ err, dir }, 'cannot watch the config directory for file events; reading it every 5 s instead')
            : log.debug({ err, dir }, 'could not list the config directory; reading it again on the next event or poll'),
      });
      log.info({ dir }, 'watching the config directory: a change is applied as a SIGHUP would apply it');
    }

    const abort = new AbortController();
    let stopRequested: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stopRequested = resolve));
    const onSignal = (signal: string) => {
      log.info({ signal }, 'shutdown requested');
      phase = 'stopping';
      abort.abort();
      stopRequested(signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const release = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSighup);
      configWatch?.close();
    };

    // The API listens before any job is consumed. A missing token for a public address stops the start; a port
    // taken (most likely by another worker on this host, which serves the API) does not stop this worker.
    if (roles.includes('api') && config.settings.api.enabled) {
      try {
        // Loaded only here: fastify and the queue board weigh ~10 MB in every worker that serves no API.
        const { startApiServer } = await import('../../api/server.js');
        api = await startApiServer({ config, log, env: io.env, pipeline: true });
      } catch (err) {
        if (!(err instanceof ApiStartError)) {
          release();
          throw err;
        }
        if (err.code !== 'CP_API_PORT_IN_USE') {
          io.stderr.write(`chokepoint worker: ${err.message}\n`);
          release();
          return EXIT.FAILURE;
        }
        log.error({ code: err.code }, `${err.message}; this worker runs without the API and its metrics`);
      }
    }
    const workerRoles = roles.filter((r): r is Role => r !== 'api');
    try {
      running = workerRoles.length ? await startWorker({ config, log, roles: workerRoles, signal: abort.signal, metrics: api?.metrics }) : undefined;
    } catch (err) {
      await api?.close();
      release();
      if (abort.signal.aborted) return EXIT.OK;
      throw err;
    }
    if (phase === 'starting') phase = 'running';
    if (reloadDeferred) queueReload(reloadDeferred);

    await stopped;
    await reloading;
    await running?.stop();
    await api?.close();
    log.info('worker stopped');
    log.flush?.();
    release();
    return EXIT.OK;
  },
};

function parseRoles(value: string | undefined): Array<Role | 'api'> | null {
  if (!value) return [...ROLES];
  const roles = value.split(',').map((r) => r.trim()).filter(Boolean);
  return roles.length > 0 && roles.every((r): r is Role | 'api' => (ROLES as string[]).includes(r)) ? roles : null;
}
