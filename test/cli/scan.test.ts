import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../helpers/cli.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { GALLIUM_BAN_ENTRY, startFeedServer, startSlackSink, startServer, type LocalServer } from '../helpers/http.js';

let feed: Awaited<ReturnType<typeof startFeedServer>>;
let slack: Awaited<ReturnType<typeof startSlackSink>>;
let broken: LocalServer;
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  feed = await startFeedServer([
    GALLIUM_BAN_ENTRY,
    { guid: 'b', title: 'Crunchy potato chips top the snack charts', link: 'https://example.org/snacks', description: 'Shoppers bought more chips.' },
  ]);
  slack = await startSlackSink();
  broken = await startServer((_req, res) => {
    res.writeHead(500).end('down');
  });
  ({ dir, cleanup } = writeConfigDir({
    'sources.yaml': `sources:
  - { id: wire, kind: rss, url: "${feed.feedUrl}" }
  - { id: broken, kind: rss, url: "${broken.url}/feed.xml" }
`,
    'watchlists.yaml': `watchlists:
  - id: minerals
    materials: [gallium, germanium]
    routes: [{ channel: slack, minLevel: info }]
`,
    'channels.yaml': `channels:\n  - { id: slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }\n`,
    'settings.yaml': `http: { allowPrivateAddresses: true, retries: 0 }\n`,
  }));
});

afterAll(async () => {
  await Promise.all([feed.close(), slack.close(), broken.close()]);
  cleanup();
});

describe('chokepoint scan', () => {
  it('prints the alerts it would send as a table, sends nothing, and names a failing source', async () => {
    const result = await runCliCaptured(['scan', '--config', dir], { SLACK_WEBHOOK_URL: slack.webhookUrl });
    expect(result.stdout.split('\n')[0]).toMatch(/^LEVEL\s+SCORE\s+WATCHLIST\s+SOURCE\s+TITLE\s+CHANNELS$/);
    expect(result.stdout).toMatch(/(HIGH|CRITICAL)\s+\d+\s+minerals\s+wire\s+China bans exports of gallium.*\s+slack/);
    expect(result.stdout).not.toContain('potato');
    expect(result.stderr).toMatch(/polled wire: 2 items/);
    expect(result.stderr).toMatch(/failed broken: .*500/);
    expect(result.code).toBe(1);
    expect(slack.messages).toHaveLength(0);
  });

  it('explains each alert, and prints JSON with --json', async () => {
    const explained = await runCliCaptured(['scan', '--config', dir, '--source', 'wire', '--explain'], { SLACK_WEBHOOK_URL: slack.webhookUrl });
    expect(explained.code).toBe(0);
    expect(explained.stdout).toMatch(/gallium/i);
    expect(explained.stdout).toContain('https://example.org/gallium-ban');
    const json = await runCliCaptured(['scan', '--config', dir, '--source', 'wire', '--json'], { SLACK_WEBHOOK_URL: slack.webhookUrl });
    const alerts = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ watchlistId: 'minerals', channels: ['slack'] });
  });

  it('delivers with --send and says so', async () => {
    const result = await runCliCaptured(['scan', '--config', dir, '--source', 'wire', '--send'], { SLACK_WEBHOOK_URL: slack.webhookUrl });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sent a\w+ to slack: /);
    expect(slack.messages).toHaveLength(1);
  });

  it('refuses an unknown source with the list of known ones', async () => {
    const result = await runCliCaptured(['scan', '--config', dir, '--source', 'nope'], { SLACK_WEBHOOK_URL: slack.webhookUrl });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown source "nope" (known: wire, broken)');
  });
});
