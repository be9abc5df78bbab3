/** Regenerates the generated parts of README.md (the configuration reference) and config/schema/*.json. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configJsonSchemas } from '../src/config/json-schema.js';
import { configReferenceMarkdown } from '../src/config/reference.js';
import { PACKAGE_ROOT } from '../src/paths.js';

const readmePath = path.join(PACKAGE_ROOT, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const updated = readme.replace(
  /<!-- config-reference:start -->\n[\s\S]*?<!-- config-reference:end -->/,
  `<!-- config-reference:start -->\n${configReferenceMarkdown().trim()}\n<!-- config-reference:end -->`,
);
writeFileSync(readmePath, updated);
const schemaDir = path.join(PACKAGE_ROOT, 'config/schema');
mkdirSync(schemaDir, { recursive: true });
for (const [file, schema] of Object.entries(configJsonSchemas())) writeFileSync(path.join(schemaDir, file), `${JSON.stringify(schema, null, 2)}\n`);
console.log('README.md configuration reference and config/schema/*.json regenerated');
