import type { Command } from '../command.js';
import { workerCommand } from './worker.js';
import { validateCommand } from './validate.js';
import { schemaCommand } from './schema.js';
import { scanCommand } from './scan.js';
import { notifyTestCommand } from './notify-test.js';

/** Every `chokepoint` subcommand, in the order `chokepoint --help` lists them. Add one import and one entry. */
export const COMMANDS: Command[] = [
  workerCommand,
  validateCommand,
  scanCommand,
  schemaCommand,
  notifyTestCommand,
];
