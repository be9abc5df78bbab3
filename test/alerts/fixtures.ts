import type { Alert } from '../../src/alerts/types.js';
import type { Item } from '../../src/items/item.js';
import type { Assessment, Direction, Level } from '../../src/scoring/types.js';

/** An alert with sensible defaults, for store and digest tests. */
export function makeAlert(overrides: Partial<Alert> & { id: string }): Alert {
  const at = overrides.updatedAt ?? '2025-10-06T08:00:00.000Z';
  return {
    watchlistId: 'rare-earth-magnets',
    storyId: `story-${overrides.id}`,
    version: 1,
    reason: 'first',
    level: 'medium',
    score: 50,
    direction: 'escalation',
    title: `Alert ${overrides.id}`,
    url: `https://example.org/${overrides.id}`,
    why: 'A test alert.',
    entities: ['samarium'],
    factors: [],
    sources: ['wire'],
    items: [],
    firstSeenAt: at,
    updatedAt: at,
    ...overrides,
  };
}

let itemCounter = 0;

/** An item from one outlet; the id defaults to a counter so every call is a new item. */
export function makeItem(overrides: Partial<Item> & { title: string; sourceId: string }): Item {
  itemCounter++;
  return {
    id: `item-${itemCounter}-${overrides.sourceId}`,
    summary: '',
    url: `https://${overrides.sourceId}.example.org/${itemCounter}`,
    publishedAt: '2025-10-06T08:00:00.000Z',
    fetchedAt: '2025-10-06T08:05:00.000Z',
    ...overrides,
  };
}

export function makeAssessment(item: Item, watchlistId: string, level: Level, options: { direction?: Direction; score?: number; entities?: string[] } = {}): Assessment {
  const score = options.score ?? { none: 0, info: 15, low: 30, medium: 50, high: 70, critical: 90 }[level];
  return {
    itemId: item.id,
    watchlistId,
    score,
    level,
    direction: options.direction ?? (level === 'none' ? 'neutral' : 'escalation'),
    matches: (options.entities ?? (level === 'none' ? [] : ['samarium'])).map((entity) => ({
      term: entity,
      entity,
      category: 'material' as const,
      field: 'title' as const,
      position: 0,
    })),
    factors: [{ name: 'test', value: score, detail: 'fixture' }],
    why: `${level} because the fixture says so`,
    entities: options.entities ?? (level === 'none' ? [] : ['samarium']),
  };
}
