import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Writes a config directory from file name -> YAML text; returns its path and a cleanup. */
export function writeConfigDir(files: Record<string, string>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
