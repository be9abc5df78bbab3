import type { Command } from '../command.js';
import { workerCommand } from './worker.js';
import { serveCommand } from './serve.js';
import { validateCommand } from './validate.js';
import { schemaCommand } from './schema.js';
import { scoreCommand } from './score.js';
import { backtestCommand } from './backtest.js';
import { scanCommand } from './scan.js';
import { notifyTestCommand } from './notify-test.js';
import { parseCommand } from './parse.js';
import { demoCommand } from './demo.js';
import { rebaselineCommand } from './rebaseline.js';

/** Every `chokepoint` subcommand, in the order `chokepoint --help` lists them. Add one import and one entry. */
export const COMMANDS: Command[] = [
  workerCommand,
  serveCommand,
  validateCommand,
  scanCommand,
  parseCommand,
  schemaCommand,
  scoreCommand,
  backtestCommand,
  notifyTestCommand,
  rebaselineCommand,
  demoCommand,
];
