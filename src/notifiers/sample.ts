import { randomBytes } from 'node:crypto';
import type { Alert } from '../alerts/types.js';

/**
 * A realistic alert (China bans gallium exports, carried by three sources) for `chokepoint notify-test`, renderer
 * tests and examples. Fixed timestamps keep rendered output stable.
 */
export function sampleAlert(): Alert {
  return {
    id: 'sample-semis-gallium-export-ban',
    watchlistId: 'semiconductor-inputs',
    watchlistName: 'Semiconductor inputs',
    storyId: 'story-gallium-export-ban',
    version: 1,
    reason: 'first',
    level: 'critical',
    score: 91,
    direction: 'escalation',
    title: 'China bans exports of gallium, germanium and antimony to the United States',
    url: 'https://www.example.com/news/china-bans-gallium-germanium-exports',
    why:
      'An export ban (strongest trade action) on gallium and germanium, of which China refines about 98% and 60% of ' +
      'world supply, reported by 3 independent sources including the official MOFCOM announcement.',
    entities: ['gallium', 'germanium', 'antimony', 'China'],
    factors: [
      { name: 'action', value: 45, detail: 'export ban' },
      { name: 'concentration', value: 1.4, detail: 'gallium: China ~98% of refined supply' },
      { name: 'credibility', value: 1, detail: 'official source (MOFCOM)' },
      { name: 'corroboration', value: 1.15, detail: '3 independent sources' },
    ],
    sources: ['mofcom-announcements', 'reuters-commodities', 'mining-com'],
    items: [
      {
        itemId: 'item-mofcom-2024-46',
        sourceId: 'mofcom-announcements',
        title: 'Announcement No. 46 of 2024 on strengthening export controls of relevant dual-use items to the United States',
        url: 'https://www.example.com/mofcom/announcement-2024-46',
        publishedAt: '2024-12-03T02:00:00.000Z',
        fetchedAt: '2024-12-03T02:14:00.000Z',
      },
      {
        itemId: 'item-reuters-gallium-ban',
        sourceId: 'reuters-commodities',
        title: 'China bans exports of gallium, germanium, antimony to US',
        url: 'https://www.example.com/reuters/china-bans-gallium',
        publishedAt: '2024-12-03T03:05:00.000Z',
        fetchedAt: '2024-12-03T03:15:00.000Z',
      },
      {
        itemId: 'item-mining-gallium-ban',
        sourceId: 'mining-com',
        title: 'China escalates critical minerals fight with outright ban on gallium, germanium',
        url: 'https://www.example.com/mining/gallium-germanium-ban',
        publishedAt: '2024-12-03T04:40:00.000Z',
        fetchedAt: '2024-12-03T04:45:00.000Z',
      },
    ],
    firstSeenAt: '2024-12-03T02:14:00.000Z',
    updatedAt: '2024-12-03T04:45:00.000Z',
  };
}

/**
 * A copy of an alert for a one-off send (`notify-test`, `scan --send`) under an id of its own. Alert ids, and the
 * email Message-IDs and webhook ids derived from them, are deterministic, and receivers drop what they have seen:
 * Gmail silently discards a second message with a known Message-ID, and webhook receivers deduplicate on id and
 * version. Under the worker's id a test would "deliver" but never show, and a preview would hide the real alert.
 */
export function oneOffAlert(alert: Alert, purpose: 'test' | 'scan', nonce = randomBytes(6).toString('hex')): Alert {
  return { ...alert, id: `${alert.id}-${purpose}-${nonce}` };
}
