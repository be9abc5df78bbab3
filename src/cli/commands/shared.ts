import { ConfigError, formatIssue } from '../../config/errors.js';
import { type ChokepointConfig, loadConfig, resolveConfigDir } from '../../config/load.js';
import type { Logger } from '../../log.js';
import type { CliIO, ParsedArgs } from '../command.js';

/** Loads the config named by --config (or $CHOKEPOINT_CONFIG, or ./config); prints every issue and returns null. */
export function loadConfigOrReport(args: ParsedArgs, io: CliIO): ChokepointConfig | null {
  const dir = resolveConfigDir(args.values.config as string | undefined, io.env);
  try {
    return loadConfig(dir, io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) io.stderr.write(`${formatIssue(issue)}\n`);
      io.stderr.write(`${err.issues.length} error${err.issues.length === 1 ? '' : 's'} in ${dir}\n`);
      return null;
    }
    throw err;
  }
}

/** Loads the config again for a SIGHUP reload; on error logs every issue and returns null (the old config stays). */
export function reloadConfigOrLog(args: ParsedArgs, io: CliIO, log: Logger): ChokepointConfig | null {
  try {
    return loadConfig(resolveConfigDir(args.values.config as string | undefined, io.env), io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error({ issues: err.issues.map(formatIssue) }, `new config is invalid (${err.issues.length} errors); keeping the old one`);
    } else log.error({ err }, 'could not load the new config; keeping the old one');
    return null;
  }
}
