import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { notifyTestCommand } from '../../src/cli/commands/notify-test.js';
import type { CliIO } from '../../src/cli/command.js';
import { startReceiver } from './receiver.js';
import { startSmtp } from './smtp.js';

const SLACK_PATH = '/services/T0CLI0001/B0CLI0002/cliSlackSecretToken12345';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-notify-test-'));
  writeFileSync(path.join(dir, 'sources.yaml'), 'sources: []\n');
  writeFileSync(path.join(dir, 'watchlists.yaml'), 'watchlists: []\n');
  writeFileSync(path.join(dir, 'settings.yaml'), 'http:\n  allowPrivateAddresses: true\n  timeoutMs: 1000\n');
  writeFileSync(
    path.join(dir, 'channels.yaml'),
    [
      'channels:',
      '  - id: ops-slack',
      '    kind: slack',
      '    webhookUrl: ${TEST_SLACK_URL}',
      '  - id: procurement-mail',
      '    kind: email',
      '    smtpUrl: ${TEST_SMTP_URL}',
      '    from: Chokepoint <alerts@example.com>',
      '    to: buyers@example.com',
      '  - id: ops-teams',
      '    kind: teams',
      '    optional: true',
      '    webhookUrl: ${TEST_TEAMS_URL_NOT_SET}',
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of cleanup) await close();
  cleanup = [];
});

async function run(positionals: string[], env: Record<string, string>) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c) => out.push(String(c)));
  stderr.on('data', (c) => err.push(String(c)));
  const io: CliIO = { stdout, stderr, stdin: new PassThrough(), env };
  const code = await notifyTestCommand.run({ values: { config: dir }, positionals }, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('chokepoint notify-test', () => {
  it('sends the sample alert to a Slack channel once and prints "delivered"', async () => {
    const receiver = await startReceiver(() => ({ status: 200, body: 'ok' }));
    cleanup.push(receiver.close);
    const result = await run(['ops-slack'], { TEST_SLACK_URL: receiver.url + SLACK_PATH, TEST_SMTP_URL: 'smtp://127.0.0.1:1' });
    expect(result).toMatchObject({ code: 0, stdout: 'delivered: HTTP 200 ok\n' });
    expect(receiver.requests).toHaveLength(1);
    const body = JSON.parse(receiver.requests[0].body);
    expect(JSON.stringify(body.blocks)).toContain('Test message sent by');
    expect(body.blocks[0].text.text).toContain('gallium');
  });

  it('prints the classified error and exits 1 without showing the webhook URL', async () => {
    const receiver = await startReceiver(() => ({ status: 410, body: 'channel_is_archived' }));
    cleanup.push(receiver.close);
    const result = await run(['ops-slack'], { TEST_SLACK_URL: receiver.url + SLACK_PATH, TEST_SMTP_URL: 'smtp://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^not delivered: permanent: channel "ops-slack": Slack webhook refused the message \(HTTP 410: channel_is_archived\)/);
    expect(result.stderr + result.stdout).not.toContain('cliSlackSecretToken12345');
  });

  it('reports the wait a rate limit asks for', async () => {
    const receiver = await startReceiver(() => ({ status: 429, headers: { 'retry-after': '20' } }));
    cleanup.push(receiver.close);
    const result = await run(['ops-slack'], { TEST_SLACK_URL: receiver.url + SLACK_PATH, TEST_SMTP_URL: 'smtp://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^not delivered: rate-limited \(retry after 20 s\)/);
  });

  it('sends through an email channel and prints the Message-ID', async () => {
    const smtp = await startSmtp();
    cleanup.push(smtp.close);
    const result = await run(['procurement-mail'], { TEST_SLACK_URL: 'https://hooks.example.com/x', TEST_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^delivered: 250 /);
    expect(result.stdout).toMatch(/messageId: <alert-sample-semis-gallium-export-ban-test-[0-9a-f]+-v1\.procurement-mail@example\.com>/);
    expect(smtp.received[0].subject).toBe('[CRITICAL] China bans exports of gallium, germanium and antimony to the United States (test)');
  });

  it('gives every test email a Message-ID of its own, so a second test is not discarded as a duplicate', async () => {
    const smtp = await startSmtp();
    cleanup.push(smtp.close);
    const env = { TEST_SLACK_URL: 'https://hooks.example.com/x', TEST_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` };
    expect((await run(['procurement-mail'], env)).code).toBe(0);
    expect((await run(['procurement-mail'], env)).code).toBe(0);
    const ids = smtp.received.map((mail) => mail.messageId);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    // Nor the id the worker would give the same alert.
    expect(ids).not.toContain('<alert-sample-semis-gallium-export-ban-v1.procurement-mail@example.com>');
  });

  it('refuses an unknown channel with a hint, and an inactive one with the reason', async () => {
    const env = { TEST_SLACK_URL: 'https://hooks.example.com/x', TEST_SMTP_URL: 'smtp://127.0.0.1:1' };
    const unknown = await run(['ops-slak'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('unknown channel "ops-slak" (known: ops-slack, procurement-mail; inactive: ops-teams); did you mean "ops-slack"?\n');
    const inactive = await run(['ops-teams'], env);
    expect(inactive.code).toBe(1);
    expect(inactive.stderr).toBe('channel "ops-teams" is inactive: environment variable TEST_TEAMS_URL_NOT_SET is not set\n');
  });

  it('needs exactly one channel id', async () => {
    expect((await run([], {})).code).toBe(2);
    expect((await run(['a', 'b'], {})).code).toBe(2);
  });
});
