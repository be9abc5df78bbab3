import type { Alert } from '../alerts/types.js';
import { ApiStartError } from '../api/errors.js';
import { type RunningApi, startApiServer } from '../api/server.js';
import { QUEUE_UI_PATH } from '../api/bull-board.js';
import type { CliIO } from '../cli/command.js';
import { EXIT } from '../cli/exit-codes.js';
import { ConfigError, formatIssue } from '../config/errors.js';
import { type ChokepointConfig, DEFAULT_REDIS_URL } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { safeRedisUrl } from '../queue/connection.js';
import { type Scheduler, startPollSchedules } from '../queue/scheduler.js';
import { levelRank } from '../scoring/types.js';
import { type RunningWorker, startWorker } from '../worker/start.js';
import { type Stage, STAGE_NOTES } from './content.js';
import { prepareDemoConfig } from './config.js';
import { DemoTimeoutError, failedReasons, pollOnce, waitForDrain } from './cycle.js';
import { startFixtureServer } from './fixture-server.js';
import { type SlackMessage, startSlackReceiver, startWebhookReceiver, type WebhookDelivery } from './receivers.js';
import { cleanRedisPrefix, redisProblem } from './redis.js';
import { type CaughtMail, DemoDependencyError, loadMailTools, startSmtpCatcher } from './smtp-catcher.js';
import { type DemoTally, failureReason, formatSummary } from './summary.js';
import { formatEmailNote, formatSlackMessage, formatWebhookNote, type Style } from './terminal.js';

export interface DemoOptions {
  io: CliIO;
  env: NodeJS.ProcessEnv;
  /** Run one cycle, print a summary and return; otherwise run until `stop` aborts. */
  once: boolean;
  /** Aborted on Ctrl-C: the continuous demo then cleans up and returns. */
  stop?: AbortSignal;
  /** Replaces the Redis prefix of config/demo/settings.yaml (tests). */
  prefix?: string;
  /** Upper bound of the one-cycle run. */
  timeoutMs?: number;
  /** Continuous demo: time between the follow-up stages the sources publish. */
  followUpEveryMs?: number;
  /** Port of the dashboard and API (default: settings.api.port of config/demo, 0 = a free port). */
  apiPort?: number;
  log?: Logger;
  color?: boolean;
}

export interface DemoResult {
  code: number;
  slack: SlackMessage[];
  emails: CaughtMail[];
  webhooks: WebhookDelivery[];
  alerts: Alert[];
}

const FOLLOW_UPS: Stage[] = ['corroborated', 'suspended'];

/**
 * `chokepoint demo`: local sources serving invented stories in the shapes of the real ones, local Slack, SMTP and
 * webhook receivers, and the real worker on Redis between them. Everything it starts is stopped and its Redis prefix
 * is deleted before it returns.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { io, env } = options;
  const out = (text: string) => io.stdout.write(text);
  const stdout = io.stdout as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  const style: Style = { color: options.color ?? (stdout.isTTY === true && !env.NO_COLOR), width: Math.min(stdout.columns ?? 100, 110) };
  const dim = (text: string) => (style.color ? `\x1b[2m${text}\x1b[0m` : text);
  const result: DemoResult = { code: EXIT.OK, slack: [], emails: [], webhooks: [], alerts: [] };

  let tools;
  try {
    tools = await loadMailTools();
  } catch (err) {
    if (!(err instanceof DemoDependencyError)) throw err;
    io.stderr.write(`chokepoint demo: ${err.message}\n`);
    return { ...result, code: EXIT.FAILURE };
  }
  const redisUrl = env.REDIS_URL || DEFAULT_REDIS_URL;
  const problem = await redisProblem(redisUrl);
  if (problem) {
    io.stderr.write(
      `chokepoint demo: Redis is not reachable at ${safeRedisUrl(redisUrl)} (${problem}); start one with ` +
        `"docker run -d -p 6379:6379 redis:7" (or "redis-server"), or set REDIS_URL to yours\n`,
    );
    return { ...result, code: EXIT.UNAVAILABLE };
  }

  const cleanups: Array<() => unknown> = [];
  let prefix: string | undefined;
  // `chokepoint demo | head` closes stdout early: carry on quietly so the cleanup below still runs. (Left attached:
  // writes still in flight at the end would otherwise fail after this function returned.)
  io.stdout.on('error', () => undefined);
  try {
    const fixtures = await startFixtureServer();
    cleanups.push(() => fixtures.close());
    const slack = await startSlackReceiver((m) => out(formatSlackMessage(m.payload, '#procurement', m.at, style)));
    cleanups.push(() => slack.close());
    const smtp = await startSmtpCatcher(tools, (mail) => out(formatEmailNote(mail, style)));
    cleanups.push(() => smtp.close());
    const hooks = await startWebhookReceiver((d) => {
      if (d.body.type !== 'alert' || !('alert' in d.body)) return;
      const a = d.body.alert;
      out(formatWebhookNote({ level: a.level, watchlist: a.watchlist.name, title: a.title, reason: a.reason, signatureValid: d.signatureValid }, style));
    });
    cleanups.push(() => hooks.close());
    result.slack = slack.messages;
    result.emails = smtp.mails;
    result.webhooks = hooks.deliveries;

    const demo = prepareDemoConfig(
      { baseUrl: fixtures.url, slackWebhookUrl: slack.webhookUrl, smtpUrl: smtp.url, webhookUrl: hooks.hookUrl, webhookSecret: hooks.secret },
      env,
      options.prefix,
    );
    cleanups.push(() => demo.cleanup());
    const { config } = demo;
    prefix = config.settings.redis.prefix;
    await cleanRedisPrefix(config.redisUrl, prefix);

    out(
      [
        'Chokepoint demo: invented stories from local servers, the real worker on Redis, nothing leaves this machine.',
        `  sources   ${fixtures.url}  (${config.sources.length} sources shaped like the Federal Register, Google News, GDELT, a press page and the screening list)`,
        `  Slack     ${slack.url}  (#procurement: ${routeFloor(config, 'procurement-slack')})`,
        `  email     ${smtp.url}  (buyers@: ${routeFloor(config, 'buyers-email')})`,
        `  webhook   ${hooks.url}  (risk dashboard: ${routeFloor(config, 'risk-webhook')})`,
        `  Redis     ${safeRedisUrl(config.redisUrl)}  prefix "${prefix}" (cleaned)`,
      ].join('\n') + '\n',
    );

    const log = options.log ?? createLogger({ level: env.LOG_LEVEL ?? 'warn', destination: io.stderr });
    // One-cycle runs exit at once: a dashboard would be gone before anyone opened it.
    const api = options.once ? undefined : await startDashboard(config, log, env, options.apiPort, out);
    if (api) cleanups.push(() => api.close());
    out('\n');
    // The demo drives the first cycle itself; the schedules start only after it (continuous mode).
    const running: RunningWorker = await startWorker({ config, log, roles: ['poll', 'score', 'notify'], signal: options.stop, metrics: api?.metrics });
    cleanups.push(() => running.stop());
    const { queues } = running.context;

    const timeoutMs = options.timeoutMs ?? 45_000;
    const until = { deadline: Date.now() + timeoutMs, timeoutMs, signal: options.stop };
    const enabled = config.sources.filter((s) => s.enabled);
    const failures: string[] = [];
    const note = (text: string) => out(dim(`· ${new Date().toISOString().slice(11, 19)} ${text}\n`));

    // A screening list reports changes against a baseline; record it first so that the entry added next is news.
    const screening = enabled.filter((s) => s.kind === 'screening').map((s) => s.id);
    let tick = Date.now();
    if (screening.length) {
      note('recording the screening list as it stands (its baseline)');
      for (const o of await pollOnce(queues.poll, screening, tick++, until)) if (o.failed) failures.push(`source ${o.sourceId}: ${o.failed}`);
      fixtures.publish('listed');
      note(`the demo sources now publish their stories, and ${STAGE_NOTES.listed}`);
    }
    note(`polling all ${enabled.length} sources once`);
    for (const o of await pollOnce(queues.poll, enabled.map((s) => s.id), tick++, until)) {
      if (o.failed) failures.push(`source ${o.sourceId}: ${o.failed}`);
    }
    await waitForDrain(queues, until);
    failures.push(...(await failedReasons(queues.notify)).map((r) => `delivery ${r}`));

    const tally = async (): Promise<DemoTally> => {
      result.alerts = await running.context.stores.alerts.listRecent(1000);
      return { alerts: result.alerts, slack: slack.messages.length, emails: smtp.mails.length, webhooks: hooks.deliveries.length, failures };
    };

    if (options.once) {
      const t = await tally();
      out(`\n${formatSummary(t)}`);
      const reason = failureReason(t);
      if (reason) {
        io.stderr.write(`chokepoint demo: ${reason}\n`);
        result.code = EXIT.FAILURE;
      }
      return result;
    }

    await watch(options, config.sources, queues.poll, log, fixtures.publish, note, cleanups);
    out(`\n${formatSummary(await tally())}`);
    return result;
  } catch (err) {
    if (err instanceof DemoTimeoutError) {
      io.stderr.write(`chokepoint demo: ${err.message}; run with LOG_LEVEL=info to see what the worker did\n`);
      return { ...result, code: EXIT.FAILURE };
    }
    if (err instanceof ConfigError) {
      // The demo reads the package's watchlists and lexicon: an edit there that breaks them shows up here.
      for (const issue of err.issues) io.stderr.write(`${formatIssue(issue)}\n`);
      io.stderr.write(`chokepoint demo: the demo's configuration is invalid (${err.issues.length} issues); run "chokepoint validate"\n`);
      return { ...result, code: EXIT.FAILURE };
    }
    if (options.stop?.aborted) return result;
    throw err;
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch(() => undefined);
    if (prefix) {
      const deleted = await cleanRedisPrefix(env.REDIS_URL || DEFAULT_REDIS_URL, prefix).catch(() => 0);
      out(dim(`stopped the worker and the local servers, removed the demo config, deleted ${deleted} Redis keys under "${prefix}"\n`));
    }
  }
}

/** What reaches a channel, from the lowest minLevel of the watchlist routes to it: "medium and up". */
function routeFloor(config: ChokepointConfig, channelId: string): string {
  const levels = config.watchlists.flatMap((w) => w.routes.filter((r) => r.channel === channelId).map((r) => r.minLevel));
  if (levels.length === 0) return 'no watchlist routes to it';
  const lowest = levels.reduce((a, b) => (levelRank(b) < levelRank(a) ? b : a));
  return lowest === 'info' ? 'every relevant alert' : `${lowest} and up`;
}

/** The API and dashboard on loopback, or a line saying why not (the demo goes on without them). */
async function startDashboard(
  config: ChokepointConfig,
  log: Logger,
  env: NodeJS.ProcessEnv,
  port: number | undefined,
  out: (text: string) => void,
): Promise<RunningApi | undefined> {
  try {
    // The API warns that it serves loopback without a token: that is the point here, so only errors are logged.
    const api = await startApiServer({ config, log: env.LOG_LEVEL ? log : log.child({}, { level: 'error' }), env, host: '127.0.0.1', port, pipeline: true });
    out(`  dashboard ${api.url}/  (alerts, sources, risk index; the queues at ${api.url}${QUEUE_UI_PATH})\n`);
    return api;
  } catch (err) {
    if (!(err instanceof ApiStartError)) throw err;
    out(`  dashboard not started: ${err.message}\n`);
    return undefined;
  }
}

/** Continuous mode: the schedules poll every 10 s, the sources publish follow-ups, until Ctrl-C. */
async function watch(
  options: DemoOptions,
  sources: Parameters<typeof startPollSchedules>[0],
  queue: Parameters<typeof startPollSchedules>[1],
  log: Logger,
  publish: (stage: Stage) => void,
  note: (text: string) => void,
  cleanups: Array<() => unknown>,
): Promise<void> {
  const scheduler: Scheduler = startPollSchedules(sources, queue, log);
  cleanups.push(() => scheduler.stop());
  const every = options.followUpEveryMs ?? 12_000;
  const timers = FOLLOW_UPS.map((stage, i) =>
    setTimeout(() => {
      publish(stage);
      note(`${STAGE_NOTES[stage]} (the next polls pick it up)`);
    }, every * (i + 1)),
  );
  cleanups.push(() => timers.forEach(clearTimeout));
  note(`watching: every source is polled every 10 s; follow-up stories arrive over the next ${Math.round((every * FOLLOW_UPS.length) / 1000)} s. Ctrl-C stops and cleans up.`);
  await new Promise<void>((resolve) => {
    if (!options.stop || options.stop.aborted) return resolve();
    options.stop.addEventListener('abort', () => resolve(), { once: true });
  });
}
