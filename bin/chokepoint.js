#!/usr/bin/env node
// Runs the compiled CLI (built by `npm install` through the `prepare` script). In a source checkout without a
// build, fall back to tsx so contributors can run the CLI straight from TypeScript.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    console.error('chokepoint: dist/ is missing and tsx is not installed; run `npm install` (it builds dist/).');
    process.exit(70);
  }
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
