import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmailChannelConfig } from '../../src/config/schema.js';
import { alertMessageId } from '../../src/notifiers/email-render.js';
import { runCliCaptured } from '../helpers/cli.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { GALLIUM_BAN_ENTRY, startFeedServer } from '../helpers/http.js';
import { startSmtp } from './smtp.js';

let feed: Awaited<ReturnType<typeof startFeedServer>>;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  feed = await startFeedServer([
    GALLIUM_BAN_ENTRY,
  ]);
  smtp = await startSmtp();
  ({ dir, cleanup } = writeConfigDir({
    'sources.yaml': `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}" }\n`,
    'watchlists.yaml': `watchlists:
  - id: minerals
    materials: [gallium, germanium]
    routes: [{ channel: mail, minLevel: info }]
`,
    'channels.yaml': `channels:\n  - { id: mail, kind: email, smtpUrl: "smtp://127.0.0.1:${smtp.port}", from: "Chokepoint <alerts@example.com>", to: buyers@example.com }\n`,
    'settings.yaml': `http: { allowPrivateAddresses: true, retries: 0 }\n`,
  }));
});

afterAll(async () => {
  await Promise.all([feed.close(), smtp.close()]);
  cleanup();
});

describe('chokepoint scan --send', () => {
  it('sends each preview email under a Message-ID of its own, never the one the worker will use', async () => {
    const json = await runCliCaptured(['scan', '--config', dir, '--json'], {});
    const [alert] = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const workerId = alertMessageId(alert.id, alert.version, { id: 'mail', from: 'Chokepoint <alerts@example.com>' } as EmailChannelConfig);

    for (let run = 0; run < 2; run++) {
      const result = await runCliCaptured(['scan', '--config', dir, '--send'], {});
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`sent ${alert.id} to mail: 250 `);
    }
    const ids = smtp.received.map((mail) => mail.messageId);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(ids).not.toContain(workerId);
    expect(smtp.received[0].subject).toMatch(/gallium/i);
  });
});
