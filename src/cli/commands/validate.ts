import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { loadConfigOrReport } from './shared.js';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check the config directory; print a one-line summary or every error',
  help: `Usage: chokepoint validate [--config DIR]

Validates sources.yaml, watchlists.yaml, channels.yaml, settings.yaml and lexicon.yaml in DIR, including
\${NAME} environment references, cross-references (routes to channels) and the scoring lexicon.
Prints one summary line and exits 0, or prints every error as "file:line: path: problem" and exits 1.
Optional channels whose environment variables are missing are reported as inactive (not an error).

Exit codes: 0 valid, 1 invalid, 2 usage error.`,
  async run(args, io) {
    const config = loadConfigOrReport(args, io);
    if (!config) return EXIT.FAILURE;
    const enabledSources = config.sources.filter((s) => s.enabled).length;
    const summary = [
      `config OK (${config.dir}):`,
      `${enabledSources} source${enabledSources === 1 ? '' : 's'}${enabledSources < config.sources.length ? ` (${config.sources.length - enabledSources} disabled)` : ''},`,
      `${config.watchlists.length} watchlist${config.watchlists.length === 1 ? '' : 's'},`,
      `${config.channels.length} active channel${config.channels.length === 1 ? '' : 's'}`,
    ].join(' ');
    io.stdout.write(`${summary}${config.inactiveChannels.length ? `, ${config.inactiveChannels.length} inactive` : ''}\n`);
    for (const inactive of config.inactiveChannels) io.stdout.write(`  inactive channel ${inactive.id}: ${inactive.reason}\n`);
    if (config.channels.length === 0) io.stdout.write('  no active channel: alerts are logged and kept in history only\n');
    return EXIT.OK;
  },
};
