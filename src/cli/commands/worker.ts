import { ConfigError, formatIssue } from '../../config/errors.js';
import { type ChokepointConfig, loadConfig, resolveConfigDir } from '../../config/load.js';
import { createLogger, type Logger } from '../../log.js';
import { ALL_ROLES, type Role, startWorker } from '../../worker/start.js';
import type { CliIO, Command, ParsedArgs } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { loadConfigOrReport } from './shared.js';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'Run the long-lived worker: schedules, polling, scoring and notifications on BullMQ',
  help: `Usage: chokepoint worker [--config DIR] [--role scheduler,poll,score,notify]

SIGHUP re-reads and re-validates the config directory and applies it without losing in-flight jobs;
an invalid new config is logged in full and the old one stays. Runs until SIGINT or SIGTERM, then stops scheduling, finishes in-flight jobs (forcing after
settings.worker.shutdownTimeoutMs) and exits 0. Any number of workers may share one Redis: each
schedule tick becomes one poll job whatever the number of workers.
Redis is $REDIS_URL, else settings.yaml redis.url, else redis://127.0.0.1:6379. While Redis is down
the worker logs once, retries with backoff and carries on when it returns.

Options:
  --role LIST   comma-separated roles to run (default: all): ${ALL_ROLES.join(', ')}

Exit codes: 0 clean shutdown, 1 invalid config, 2 usage error.`,
  options: { role: { type: 'string' } },
  async run(args, io) {
    const config = loadConfigOrReport(args, io);
    if (!config) return EXIT.FAILURE;
    const roles = parseRoles(args.values.role as string | undefined);
    if (!roles) {
      io.stderr.write(`chokepoint worker: --role takes a comma-separated list of: ${ALL_ROLES.join(', ')}\n`);
      return EXIT.USAGE;
    }
    const log = createLogger({ level: io.env.LOG_LEVEL ?? config.settings.log.level });
    for (const inactive of config.inactiveChannels) log.warn({ channelId: inactive.id, reason: inactive.reason }, 'channel inactive');

    const abort = new AbortController();
    let stopRequested: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stopRequested = resolve));
    const onSignal = (signal: string) => {
      log.info({ signal }, 'shutdown requested');
      abort.abort();
      stopRequested(signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    let running;
    try {
      running = await startWorker({ config, log, roles, signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) return EXIT.OK;
      throw err;
    }
    const onReload = () => {
      log.info('SIGHUP: reloading config');
      const next = tryLoad(args, io, log);
      if (next) running.reload(next).catch((err) => log.error({ err }, 'config reload failed; keeping the old config'));
    };
    process.on('SIGHUP', onReload);
    await stopped;
    process.off('SIGHUP', onReload);
    await running.stop();
    log.info('worker stopped');
    log.flush?.();
    return EXIT.OK;
  },
};

/** Loads the config for a reload; on error logs every issue and returns null (the old config stays). */
function tryLoad(args: ParsedArgs, io: CliIO, log: Logger): ChokepointConfig | null {
  try {
    return loadConfig(resolveConfigDir(args.values.config as string | undefined, io.env), io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error({ issues: err.issues.map(formatIssue) }, `new config is invalid (${err.issues.length} errors); keeping the old one`);
      return null;
    }
    log.error({ err }, 'could not load the new config; keeping the old one');
    return null;
  }
}

function parseRoles(value: string | undefined): Role[] | null {
  if (!value) return [...ALL_ROLES];
  const roles = value.split(',').map((r) => r.trim()).filter(Boolean);
  return roles.every((r): r is Role => (ALL_ROLES as string[]).includes(r)) ? roles : null;
}
