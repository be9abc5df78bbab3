import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Show the whole pipeline offline: local sources, the worker on Redis, alerts as Slack and email show them',
  help: `Usage: chokepoint demo [--once] [--port N]

Starts local servers on 127.0.0.1 that serve invented stories in the shapes of the real sources (Federal
Register API, Google News RSS, GDELT, an agency press page, the Consolidated Screening List), a
Slack-compatible receiver, an SMTP catcher and a webhook receiver, and runs the worker against them with
the default watchlists (config/watchlists.yaml) and config/demo. Alerts appear in the terminal as Slack
would show them, with a line per email and per webhook. Nothing leaves this machine; no credentials needed.

Without --once it keeps polling every 10 s; the sources publish follow-up stories (a third outlet, a
suspended ban) over the next half minute. Ctrl-C stops everything, removes the temporary config and deletes
the demo's Redis keys (prefix "chokepoint-demo", also deleted at start so every run alerts afresh).

Needs Redis at $REDIS_URL (default redis://127.0.0.1:6379) and the development packages smtp-server and
mailparser (installed by "npm install"). --config is ignored: the demo always uses config/demo.

Options:
  --once     poll every source once, wait until every alert has been delivered, print a summary and exit
  --port N   port of the dashboard and API (default: a free port; the URL is printed)

Exit codes: 0 alerts were delivered, 1 nothing arrived or a source or delivery failed (the reason is printed),
69 Redis unreachable.`,
  options: { once: { type: 'boolean' }, port: { type: 'string' } },
  async run(args, io) {
    const once = args.values.once === true;
    const port = args.values.port === undefined ? undefined : Number(args.values.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      io.stderr.write(`chokepoint demo: --port takes a port number (0-65535), not "${String(args.values.port)}"\n`);
      return EXIT.USAGE;
    }
    const abort = new AbortController();
    // Stay registered until the cleanup is over: npm and the terminal may both deliver one Ctrl-C, and a second
    // signal must not kill the process halfway through deleting the demo's Redis keys.
    const onSignal = () => {
      if (!abort.signal.aborted) io.stderr.write('\nstopping the demo and cleaning up…\n');
      abort.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const { runDemo } = await import('../../demo/run.js');
      const result = await runDemo({ io, env: io.env, once, stop: abort.signal, apiPort: port });
      return result.code;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

