import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configJsonSchemas } from '../../config/json-schema.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'Print or write the JSON Schema of each config file (for editor autocompletion)',
  help: `Usage: chokepoint schema [--out DIR]

Without --out, prints one JSON object mapping file names to their JSON Schemas.
With --out DIR, writes sources.schema.json, watchlists.schema.json, channels.schema.json and
settings.schema.json into DIR. Point your editor at them, e.g. with yaml-language-server:
  # yaml-language-server: $schema=./schema/watchlists.schema.json

Exit codes: 0 ok, 1 the directory cannot be written, 2 usage error.`,
  options: { out: { type: 'string', short: 'o' } },
  async run(args, io) {
    const schemas = configJsonSchemas();
    const out = args.values.out as string | undefined;
    if (!out) {
      io.stdout.write(`${JSON.stringify(schemas, null, 2)}\n`);
      return EXIT.OK;
    }
    try {
      mkdirSync(out, { recursive: true });
      for (const [file, schema] of Object.entries(schemas)) {
        writeFileSync(path.join(out, file), `${JSON.stringify(schema, null, 2)}\n`);
        io.stdout.write(`wrote ${path.join(out, file)}\n`);
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'it is a file, not a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
      io.stderr.write(`chokepoint schema: cannot write the schemas to ${out}: ${why}\n`);
      return EXIT.FAILURE;
    }
    return EXIT.OK;
  },
};
