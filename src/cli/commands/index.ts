import type { Command } from '../command.js';

/** Every `chokepoint` subcommand, in the order `chokepoint --help` lists them. Add one import and one entry. */
export const COMMANDS: Command[] = [];
