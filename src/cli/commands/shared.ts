import { ConfigError, formatIssue } from '../../config/errors.js';
import { type ChokepointConfig, loadRunnableConfig, resolveConfigDir } from '../../config/load.js';
import type { Logger } from '../../log.js';
import { redactSecrets } from '../../secrets.js';
import type { CliIO, ParsedArgs } from '../command.js';
import { EXIT } from '../exit-codes.js';

const errors = (n: number) => `${n} error${n === 1 ? '' : 's'}`;

/**
 * Loads the config named by --config (or $CHOKEPOINT_CONFIG, or ./config), with the scorer's checks; on error prints
 * every issue and returns null. Issues never hold a secret; the scrub is a second line of defence.
 */
export function loadConfigOrReport(args: ParsedArgs, io: CliIO): ChokepointConfig | null {
  const dir = resolveConfigDir(args.values.config as string | undefined, io.env);
  try {
    return loadRunnableConfig(dir, io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) io.stderr.write(`${redactSecrets(formatIssue(issue))}\n`);
      io.stderr.write(`${errors(err.issues.length)} in ${dir}\n`);
      return null;
    }
    throw err;
  }
}

/** Loads the config again for a SIGHUP reload; on error logs every issue and returns null (the old config stays). */
export function reloadConfigOrLog(args: ParsedArgs, io: CliIO, log: Logger): ChokepointConfig | null {
  try {
    return loadRunnableConfig(resolveConfigDir(args.values.config as string | undefined, io.env), io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error({ issues: err.issues.map(formatIssue) }, `new config is invalid (${errors(err.issues.length)}); keeping the old one`);
    } else log.error({ err }, 'could not load the new config; keeping the old one');
    return null;
  }
}

/**
 * The start of a command about one configured thing (`notify-test <channelId>`, `rebaseline <sourceId>`): exactly one
 * id, then the config; otherwise the exit code, the reason already printed.
 */
export function idAndConfig(args: ParsedArgs, io: CliIO, command: string, what: string): { id: string; config: ChokepointConfig } | number {
  const [id, ...extra] = args.positionals;
  if (!id || extra.length > 0) {
    io.stderr.write(`chokepoint ${command}: expected exactly one ${what}\nRun "chokepoint ${command} --help" for usage.\n`);
    return EXIT.USAGE;
  }
  const config = loadConfigOrReport(args, io);
  return config ? { id, config } : EXIT.FAILURE;
}
