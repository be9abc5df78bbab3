import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchemas } from '../../src/config/json-schema.js';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';

describe('JSON Schemas for editors', () => {
  it('are committed under config/schema and match the zod schemas (regenerate: npx tsx scripts/update-readme.ts)', () => {
    for (const [file, schema] of Object.entries(configJsonSchemas())) {
      const committed = JSON.parse(readFileSync(`${PACKAGE_CONFIG_DIR}/schema/${file}`, 'utf8'));
      expect(committed, file).toEqual(schema);
    }
  });

  it('describe the keys ops write, with their defaults and allowed values', () => {
    const schemas = configJsonSchemas() as Record<string, any>;
    const route = schemas['watchlists.schema.json'].properties.watchlists.items.properties.routes.items;
    expect(route.properties.minLevel.enum).toEqual(['info', 'low', 'medium', 'high', 'critical']);
    expect(route.additionalProperties).toBe(false);
    const source = schemas['sources.schema.json'].properties.sources.items;
    expect(JSON.stringify(source)).toContain('"schedule"');
  });
});
