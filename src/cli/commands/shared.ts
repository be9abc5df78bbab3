import { ConfigError, formatIssue } from '../../config/errors.js';
import { type ChokepointConfig, loadConfig, resolveConfigDir } from '../../config/load.js';
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
