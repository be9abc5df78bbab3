import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Writes a config directory from file name -> YAML text; returns its path and a cleanup. */
export function writeConfigDir(files: Record<string, string>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A poll worker's config over the given sources (YAML list lines): one watchlist, a webhook nobody listens on, and no
 * retries inside the HTTP client, so each poll is one request.
 */
export function writePollConfigDir(prefix: string, sourceLines: string[]): { dir: string; cleanup: () => void } {
  return writeConfigDir({
    'sources.yaml': `sources:\n${sourceLines.join('\n')}\n`,
    'watchlists.yaml': 'watchlists:\n  - id: minerals\n    keywords: [gallium]\n    routes: [{ channel: hook, minLevel: info }]\n',
    'channels.yaml': 'channels:\n  - { id: hook, kind: webhook, url: "http://127.0.0.1:9/hook" }\n',
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true, perHostIntervalMs: 0, retries: 0 }\napi: { enabled: false }\n`,
  });
}

export const MINIMAL = {
  'sources.yaml': `sources:
  - id: fedreg-bis
    kind: rss
    url: https://example.org/feed.xml
    schedule: "*/10 * * * *"
`,
  'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    keywords: [samarium, "rare earth"]
    routes:
      - { channel: procurement-slack, minLevel: medium }
`,
  'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
`,
};
