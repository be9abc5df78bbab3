import { z } from 'zod';
import { CONFIG_FILES } from './schema.js';

/** JSON Schema (draft 2020-12) of each config file, for editor autocompletion (yaml-language-server). */
export function configJsonSchemas(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [file, schema] of Object.entries(CONFIG_FILES)) {
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    out[file.replace(/\.yaml$/, '.schema.json')] = {
      $id: `https://chokepoint.dev/schema/${file.replace(/\.yaml$/, '.schema.json')}`,
      title: `Chokepoint ${file}`,
      ...json,
    };
  }
  return out;
}
