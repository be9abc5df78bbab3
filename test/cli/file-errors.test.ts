import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../helpers/cli.js';

const work = mkdtempSync(path.join(tmpdir(), 'chokepoint-cli-files-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the CLI on files and addresses it cannot use', () => {
  it('says so in one line and exits 1, not 70 with a stack trace (a directory as input, a file as output directory)', async () => {
    for (const command of ['score', 'backtest']) {
      const result = await runCliCaptured([command, '--input', work]);
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toBe(`chokepoint ${command}: cannot read ${work}: it is a directory\n`);
    }
    const file = path.join(work, 'taken');
    writeFileSync(file, 'x');
    const schema = await runCliCaptured(['schema', '--out', file]);
    expect(schema).toMatchObject({ code: 1, stderr: `chokepoint schema: cannot write the schemas to ${file}: it is a file, not a directory\n` });
  });

  it('still reads a named pipe as input (process substitution, /dev/stdin)', async () => {
    const fifo = path.join(work, 'items.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = new Promise<void>((resolve, reject) => {
      // Opening a FIFO for writing waits for its reader: the CLI below.
      import('node:fs').then(({ createWriteStream }) => {
        const out = createWriteStream(fifo);
        out.on('error', reject);
        out.end('{"id":"a","title":"China bans gallium exports"}\n', () => resolve());
      }, reject);
    });
    const result = await runCliCaptured(['score', '--input', fifo]);
    await writer;
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: 'a' });
  });

  it('parse: refuses other URL schemes as usage, and a config directory named but missing', async () => {
    const ftp = await runCliCaptured(['parse', 'ftp://example.com/feed.xml']);
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toMatch(/only http\(s\) URLs and files can be parsed, not "ftp:" URLs/);
    const missing = path.join(work, 'no-such-config');
    expect(await runCliCaptured(['parse', 'http://127.0.0.1:1/', '--config', missing])).toMatchObject({ code: 1, stderr: `chokepoint parse: config directory ${missing} does not exist\n` });
    // $CHOKEPOINT_CONFIG counts as --config does.
    expect((await runCliCaptured(['parse', 'http://127.0.0.1:1/'], { CHOKEPOINT_CONFIG: missing })).stderr).toContain('does not exist');
  });
});
