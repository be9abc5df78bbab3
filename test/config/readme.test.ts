import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown } from '../../src/config/reference.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

describe('the README', () => {
  const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');

  it('carries the configuration reference generated from the schemas (regenerate: npx tsx scripts/update-readme.ts)', () => {
    const section = /<!-- config-reference:start -->\n([\s\S]*?)<!-- config-reference:end -->/.exec(readme)?.[1];
    expect(section?.trim()).toBe(configReferenceMarkdown().trim());
  });

  it('names the two quickstart commands and the test command', () => {
    expect(readme).toContain('npm install');
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
  });
});
