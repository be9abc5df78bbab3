import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../src/cli/main.js';

/** Runs the CLI in-process with in-memory streams. */
export async function runCliCaptured(argv: string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([stdin]), env });
  return { code, stdout: out, stderr: err };
}
