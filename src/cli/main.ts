import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import { COMMANDS } from './commands/index.js';
import type { CliIO, Command } from './command.js';
import { EXIT } from './exit-codes.js';

const VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `chokepoint ${VERSION} — supply-chain risk alerts for rare earths, critical minerals and semiconductors`,
    '',
    'Usage: chokepoint <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --config DIR (default $CHOKEPOINT_CONFIG, then ./config) and --help.',
    `Exit codes: ${EXIT.OK} ok, ${EXIT.FAILURE} failure (invalid config, input or check), ${EXIT.USAGE} usage error,`,
    `            ${EXIT.UNAVAILABLE} Redis or another service unavailable, ${EXIT.INTERNAL} internal error.`,
    '',
  ].join('\n');
}

/** Runs one CLI invocation and returns its exit code (never calls process.exit; bin does). */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`chokepoint: unknown command "${name}". Run "chokepoint --help" for the list.\n`);
    return EXIT.USAGE;
  }
  let args;
  try {
    args = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, config: { type: 'string', short: 'c' } },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    io.stderr.write(`chokepoint ${name}: ${(err as Error).message}\nRun "chokepoint ${name} --help" for usage.\n`);
    return EXIT.USAGE;
  }
  if (args.values.help) {
    io.stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return EXIT.OK;
  }
  return runCommand(command, args, io);
}

async function runCommand(command: Command, args: ReturnType<typeof parseArgs>, io: CliIO): Promise<number> {
  try {
    return await command.run({ values: args.values as Record<string, string | boolean | undefined>, positionals: args.positionals }, io);
  } catch (err) {
    io.stderr.write(`chokepoint ${command.name}: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.INTERNAL;
  }
}

const invokedDirectly = process.argv[1] && /chokepoint(\.js)?$|cli[\\/]main\.(js|ts)$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
  // Every command resolves only when its work is done (worker, serve and demo after their shutdown). Let stdout and
  // the logger drain, then exit even if a library left a handle open (a reconnecting client after a cut close).
  process.exitCode = code;
  setTimeout(() => process.exit(code), 200).unref();
}
