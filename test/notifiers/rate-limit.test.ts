import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';

/** A channel's send rate (rateLimit): how it is written, checked, and what each kind gets when it is left out. */
let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

function channels(lines: string[]) {
  const { dir, cleanup } = writeConfigDir({ ...MINIMAL, 'watchlists.yaml': 'watchlists: []\n', 'channels.yaml': `channels:\n${lines.join('\n')}\n` });
  cleanups.push(cleanup);
  return dir;
}

function issuesOf(dir: string): string[] {
  try {
    loadConfig(dir, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected the config to be invalid');
}

describe('rateLimit on a channel', () => {
  it('gives Slack one message a second with bursts of three when left out, and the other kinds no pace', () => {
    const config = loadConfig(
      channels([
        '  - { id: s, kind: slack, webhookUrl: "https://hooks.slack.com/services/T0/B0/x" }',
        '  - { id: t, kind: teams, webhookUrl: "https://prod.example.logic.azure.com/workflows/x" }',
        '  - { id: w, kind: webhook, url: "https://hooks.example.com/x" }',
        '  - { id: e, kind: email, smtpUrl: "smtp://mail.example.com:587", from: "a@example.com", to: "b@example.com" }',
      ]),
      {},
    );
    const notifiers = createNotifiers(config.channels);
    expect(notifiers.get('s')?.rateLimit).toEqual({ perMinute: 60, burst: 3 });
    for (const id of ['t', 'w', 'e']) expect(notifiers.get(id)?.rateLimit, id).toBeUndefined();
  });

  it('takes a channel\'s own rate over its kind\'s, and false as "do not pace"', () => {
    const config = loadConfig(
      channels([
        '  - { id: s, kind: slack, webhookUrl: "https://hooks.slack.com/services/T0/B0/x", rateLimit: false }',
        '  - { id: w, kind: webhook, url: "https://hooks.example.com/x", rateLimit: { perMinute: 30 } }',
        '  - { id: t, kind: teams, webhookUrl: "https://prod.example.logic.azure.com/workflows/x", rateLimit: { perMinute: 120, burst: 4 } }',
      ]),
      {},
    );
    const notifiers = createNotifiers(config.channels);
    expect(notifiers.get('s')?.rateLimit).toBeUndefined();
    expect(notifiers.get('w')?.rateLimit).toEqual({ perMinute: 30, burst: 1 });
    expect(notifiers.get('t')?.rateLimit).toEqual({ perMinute: 120, burst: 4 });
  });

  it('refuses a rate that is not a positive number of messages a minute, or a burst below one, naming the key', () => {
    const issues = issuesOf(
      channels([
        '  - { id: a, kind: webhook, url: "https://hooks.example.com/a", rateLimit: { perMinute: 0 } }',
        '  - { id: b, kind: webhook, url: "https://hooks.example.com/b", rateLimit: { perMinute: 60, burst: 0 } }',
        '  - { id: c, kind: webhook, url: "https://hooks.example.com/c", rateLimit: true }',
        // Slower than one a day: a wait of centuries, and below ~1e-12 a Redis error on every send.
        '  - { id: d, kind: webhook, url: "https://hooks.example.com/d", rateLimit: { perMinute: 0.000000001 } }',
      ]),
    );
    expect(issues.find((i) => i.includes('channels[3].rateLimit.perMinute'))).toMatch(/one a day/);
    expect(issues.join('\n')).toMatch(/channels\[0\]\.rateLimit\.perMinute/);
    expect(issues.join('\n')).toMatch(/channels\[1\]\.rateLimit\.burst/);
    expect(issues.find((i) => i.includes('channels[2].rateLimit'))).toMatch(/false.*perMinute/);
  });
});
