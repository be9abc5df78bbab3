import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';
import { runCliCaptured } from '../helpers/cli.js';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';
import { spawnCli } from '../helpers/process.js';

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

  it('never prints a secret from the environment or from a credential key, naming the key and the variable instead', async () => {
    const { dir, cleanup } = writeConfigDir({
      ...MINIMAL,
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_URL}" }
  - { id: buyers, kind: email, smtpUrl: "mailer:LiteralMailSecret77@mail.example.com:587", from: a@example.org, to: b@example.org }
`,
    });
    cleanups.push(cleanup);
    const proc = spawnCli(['validate', '--config', dir], { SLACK_URL: 'hooks.slack.com/services/T000/B000/SuperSecretXYZ123' });
    expect((await proc.exited).code).toBe(1);
    const output = proc.output();
    expect(output).toMatch(/channels\.yaml:2: channels\[0\]\.webhookUrl: \(value of \$SLACK_URL\) must be an absolute http\(s\) URL/);
    expect(output).toMatch(/channels\.yaml:3: channels\[1\]\.smtpUrl: \(value not shown: a credential\) must be an smtp:\/\/ or smtps:\/\/ URL/);
    expect(output).not.toContain('SuperSecretXYZ123');
    expect(output).not.toContain('LiteralMailSecret77');
    expect(output).toMatch(/^2 errors in /m);
  });

  it('rejects a watchlist the scorer cannot build (an unknown material), naming it, with the error count', async () => {
    const { dir, cleanup } = writeConfigDir({
      ...MINIMAL,
      'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    materials: [unobtainium]
    routes:
      - { channel: procurement-slack, minLevel: medium }
`,
    });
    cleanups.push(cleanup);
    const result = await runCliCaptured(['validate', '--config', dir], { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/watchlists\.yaml:3: watchlists\[0\]\.materials\[0\]: unknown material "unobtainium"/);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^1 error in /);
  });

  it('passes with the optional channel inactive when its missing variable is a digest schedule', async () => {
    const { dir, cleanup } = writeConfigDir({
      ...MINIMAL,
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, optional: true, webhookUrl: "\${SLACK_WEBHOOK_URL}", digest: { schedule: "\${DIGEST_CRON}" } }
`,
    });
    cleanups.push(cleanup);
    const result = await runCliCaptured(['validate', '--config', dir], { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('inactive channel procurement-slack: environment variable DIGEST_CRON is not set');
  });

  it('reports a malformed $REDIS_URL and a YAML alias bomb as config errors (exit 1), not internal errors', async () => {
    const { dir, cleanup } = writeConfigDir(MINIMAL);
    cleanups.push(cleanup);
    const env = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x', REDIS_URL: 'redis://:Pa55-Secret-Word@redis.internal:63a79' };
    const badUrl = await runCliCaptured(['validate', '--config', dir], env);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/^\$REDIS_URL: is not a valid URL/m);
    expect(badUrl.stderr).not.toContain('Pa55-Secret-Word');

    const bomb = writeConfigDir({ ...MINIMAL, 'sources.yaml': 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nsources: []\n' });
    cleanups.push(bomb.cleanup);
    const result = await runCliCaptured(['validate', '--config', bomb.dir], { SLACK_WEBHOOK_URL: env.SLACK_WEBHOOK_URL });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/sources\.yaml: YAML error: .*alias/i);
    expect(result.stderr).not.toContain('internal error');
  });
});
