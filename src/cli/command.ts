import type { ParseArgsConfig } from 'node:util';

/** Streams and environment a command runs with (tests pass their own). */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/**
 * One `chokepoint <name>` subcommand. Options use node:util parseArgs; `--help` and `--config` are added by the CLI.
 * run returns the process exit code (see EXIT in cli/exit-codes.ts).
 */
export interface Command {
  name: string;
  summary: string;
  /** Full help text shown by `chokepoint <name> --help` (usage line, options, exit codes). */
  help: string;
  options?: ParseArgsConfig['options'];
  allowPositionals?: boolean;
  run(args: ParsedArgs, io: CliIO): Promise<number>;
}
