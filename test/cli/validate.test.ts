import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';
import { runCliCaptured } from '../helpers/cli.js';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));

describe('chokepoint validate', () => {
  it('prints a one-line summary and exits 0 for a valid config', async () => {
    const { dir, cleanup } = writeConfigDir(MINIMAL);
    cleanups.push(cleanup);
    const result = await runCliCaptured(['validate', '--config', dir], { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^config OK .*: 1 source, 1 watchlist, 1 active channel\n$/);
  });

  it('prints every error with file, line and path, and exits 1', async () => {
    const { dir, cleanup } = writeConfigDir({
      ...MINIMAL,
      'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    keywords: [samarium]
    routes:
      - { channel: procurement-slak, minLevel: severe }
`,
    });
    cleanups.push(cleanup);
    const result = await runCliCaptured(['validate', '--config', dir], {});
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/channels\.yaml:2: channels\[0\]\.webhookUrl: environment variable SLACK_WEBHOOK_URL is not set/),
        expect.stringMatching(/watchlists\.yaml:5: watchlists\[0\]\.routes\[0\]\.minLevel: "severe" is not allowed/),
      ]),
    );
    expect(lines.at(-1)).toMatch(/^2 errors in /);
  });

  it('passes on the default config with no environment set and reports the inactive channels', async () => {
    const result = await runCliCaptured(['validate', '--config', PACKAGE_CONFIG_DIR], {});
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^config OK .*0 active channels, 3 inactive\n/);
    expect(result.stdout).toContain('inactive channel procurement-slack: environment variable SLACK_WEBHOOK_URL is not set');
    expect(result.stdout).toContain('no active channel: alerts are logged and kept in history only');
  });

  it('exits 2 with a hint on an unknown option, and 0 with usage on --help', async () => {
    const bad = await runCliCaptured(['validate', '--confg', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option '--confg'/);
    const help = await runCliCaptured(['validate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: chokepoint validate/);
  });

  it('lists the commands and exits 2 for an unknown command', async () => {
    const result = await runCliCaptured(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
    const help = await runCliCaptured(['--help']);
    expect(help.stdout).toMatch(/worker.*\n.*validate/s);
  });
});
