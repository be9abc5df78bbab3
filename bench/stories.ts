import { readFileSync } from 'node:fs';
import type { Item } from '../src/items/item.js';
import { Redis } from 'ioredis';
import { createMemoryStoryStore, createStoryStore } from '../src/store/stories.js';

/**
 * Story clustering quality on the labelled development set (read in place from ../shared/eval/dev.jsonl): items of one
 * event share a `story` label. Prints pairwise and B-cubed precision/recall of the clusters that sequential
 * assignment produces, (a) with every item at the same instant (the worst case: years of events in one window) and
 * (b) in publication order with the 72 h window, dated items only.
 */
interface Row {
  id: string;
  title: string;
  summary: string;
  source: string;
  publishedAt: string | null;
  story?: string;
  labels: { relevant: boolean };
}

function load(): Row[] {
  const url = new URL('../../shared/eval/dev.jsonl', import.meta.url);
  return readFileSync(url, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Row);
}

function toItem(row: Row): Item {
  return { id: row.id, sourceId: row.source, title: row.title, summary: row.summary, publishedAt: row.publishedAt ? `${row.publishedAt.slice(0, 10)}T12:00:00.000Z` : null, fetchedAt: '2026-01-01T00:00:00.000Z' };
}

export function scoreClusters(gold: string[], predicted: string[]): { pairP: number; pairR: number; b3P: number; b3R: number; clusters: number; goldClusters: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let b3P = 0;
  let b3R = 0;
  for (let i = 0; i < gold.length; i++) {
    let samePred = 0;
    let sameGold = 0;
    let both = 0;
    for (let j = 0; j < gold.length; j++) {
      const g = gold[i] === gold[j];
      const p = predicted[i] === predicted[j];
      if (p) samePred++;
      if (g) sameGold++;
      if (g && p) both++;
      if (j > i) {
        if (g && p) tp++;
        else if (p) fp++;
        else if (g) fn++;
      }
    }
    b3P += both / samePred;
    b3R += both / sameGold;
  }
  return { pairP: tp / Math.max(1, tp + fp), pairR: tp / Math.max(1, tp + fn), b3P: b3P / gold.length, b3R: b3R / gold.length, clusters: new Set(predicted).size, goldClusters: new Set(gold).size };
}

async function cluster(rows: Row[], timed: boolean, threshold?: number) {
  const store = createMemoryStoryStore({ windowHours: 72, threshold });
  const predicted: string[] = [];
  for (const row of rows) {
    const item = toItem(row);
    const now = timed && item.publishedAt ? new Date(item.publishedAt) : new Date('2026-01-01T00:00:00Z');
    predicted.push((await store.assign(item, now)).storyId);
  }
  return scoreClusters(rows.map((r) => r.story ?? `solo-${r.id}`), predicted);
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

async function quality(): Promise<void> {
  if (process.argv.includes('--throughput-only')) return;
  const rows = load();
  const relevant = rows.filter((r) => r.labels.relevant);
  const dated = relevant.filter((r) => r.publishedAt).sort((a, b) => (a.publishedAt! < b.publishedAt! ? -1 : 1));
  const thresholds = process.env.STORY_THRESHOLDS?.split(',').map(Number) ?? [undefined];
  for (const threshold of thresholds) {
    for (const [label, set, timed] of [
      ['relevant items, all at one instant', relevant, false],
      ['all items (negatives too), one instant', rows, false],
      ['dated relevant items, publication order, 72 h window', dated, true],
    ] as const) {
      const s = await cluster([...set], timed, threshold);
      console.log(
        `${threshold ?? 'default'} ${label} (${set.length} items, ${s.goldClusters} gold stories -> ${s.clusters} clusters): ` +
          `pairwise precision ${pct(s.pairP)} recall ${pct(s.pairR)}; B-cubed precision ${pct(s.b3P)} recall ${pct(s.b3R)}`,
      );
    }
  }
}

/** Items a second through the Redis story store: two "workers" (connections) assigning a mix of related headlines. */
async function throughput(): Promise<void> {
  const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const connections = [new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 }), new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })];
  try {
    await Promise.all(connections.map((c) => c.connect()));
  } catch {
  console.log(`story store throughput: skipped (no Redis at ${url})`);
    connections.forEach((c) => c.disconnect());
    return;
  }
  const prefix = `bench-stories-${Date.now()}`;
  const stores = connections.map((c) => createStoryStore(c, prefix, { windowHours: 72 }));
  const rows = load().filter((r) => r.labels.relevant);
  const total = 2000;
  const assigners = Number(process.env.ASSIGNERS ?? 4);
  const now = new Date();
  const started = performance.now();
  let next = 0;
  const worker = async (w: number) => {
    for (let i = next++; i < total; i = next++) {
      const row = rows[i % rows.length];
      // Every 60 items the same headlines come back as new items with a distinguishing word: new, related stories.
      const round = Math.floor(i / rows.length);
      await stores[w % stores.length].assign({ ...toItem(row), id: `${row.id}-${round}`, title: `${row.title} ${round ? `update${round}` : ''}` }, now);
    }
  };
  await Promise.all([...Array(assigners).keys()].map(worker));
  const seconds = (performance.now() - started) / 1000;
  console.log(`story store throughput: ${total} items in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} items/s (${assigners} concurrent assigners on 2 connections, all items related: the contended case)`);
  let cursor = '0';
  do {
    const [nextCursor, keys] = await connections[0].scan(cursor, 'MATCH', `{${prefix}}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length) await connections[0].del(...keys);
  } while (cursor !== '0');
  connections.forEach((c) => c.disconnect());
}

/** Clustering quality on the development set, then throughput of the Redis store (skipped without Redis). */
export async function run(): Promise<void> {
  await quality();
  await throughput();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
