import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/types.js';
import { createAlertStore, type AlertStore } from '../../src/store/alerts.js';
import { keyFor } from '../../src/store/keys.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { makeAlert } from './fixtures.js';

const prefix = uniquePrefix('alert-store');
let redis: Redis;
let store: AlertStore;
const NOW = Date.parse('2025-10-06T12:00:00Z');
const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000).toISOString();

async function put(alert: Alert): Promise<void> {
  await store.update(alert.id, async () => ({ alert, result: undefined }));
}

beforeAll(async () => {
  redis = new Redis(testRedisUrl());
  store = createAlertStore(redis, prefix, { days: 30, count: 1000 }, () => NOW);
  // 30 alerts, one a minute, alternating watchlists and levels.
  const levels = ['info', 'low', 'medium', 'high', 'critical'] as const;
  for (let i = 0; i < 30; i++) {
    await put(makeAlert({ id: `a${String(i).padStart(2, '0')}`, watchlistId: i % 2 ? 'semis' : 'magnets', level: levels[i % 5], updatedAt: at(30 - i) }));
  }
});

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

async function all(query: Parameters<AlertStore['list']>[0]): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = query.cursor;
  let pages = 0;
  do {
    const page = await store.list({ ...query, cursor });
    ids.push(...page.alerts.map((a) => a.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 100);
  return { ids, pages };
}

describe('the alert history', () => {
  it('lists the newest activity first and pages through everything exactly once', async () => {
    const { ids, pages } = await all({ limit: 7 });
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
    expect(ids[0]).toBe('a29');
    expect(ids.at(-1)).toBe('a00');
    expect(pages).toBe(5);
  });

  it('filters by watchlist, exact level and minimum level together', async () => {
    const { ids } = await all({ watchlistId: 'semis', minLevel: 'high', limit: 2 });
    // odd indexes with level index 3 or 4: 3, 9, 19, 29 (high/critical on semis)
    const expected = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 5 >= 3).reverse().map((i) => `a${String(i).padStart(2, '0')}`);
    expect(ids).toEqual(expected);
    const critical = await store.list({ level: 'critical', limit: 100 });
    expect(critical.alerts.map((a) => a.level)).toEqual(Array(6).fill('critical'));
  });

  it('reads at most its scan budget for a level-filtered page, and the cursor goes on from there without losing any', async () => {
    const unbounded = await all({ minLevel: 'high', limit: 100 });
    expect(unbounded.pages).toBe(1);
    const first = await store.list({ minLevel: 'high', limit: 100, scanBudget: 7 });
    // The newest 7 alerts hold 4 of level high or above; the page stops there and says there is more.
    expect(first.alerts.map((a) => a.id)).toEqual(['a29', 'a28', 'a24', 'a23']);
    expect(first.nextCursor).toBeDefined();
    const paged = await all({ minLevel: 'high', limit: 100, scanBudget: 7 });
    expect(paged.ids).toEqual(unbounded.ids);
    expect(paged.pages).toBe(5);
    // Without a level filter the index does the filtering: no budget applies.
    expect((await store.list({ watchlistId: 'semis', limit: 100, scanBudget: 1 })).alerts).toHaveLength(15);
  });

  it('bounds the listing to a time range', async () => {
    const { alerts } = await store.list({ since: at(10), until: new Date(NOW - 5 * 60_000), limit: 100 });
    expect(alerts.map((a) => a.id)).toEqual(['a25', 'a24', 'a23', 'a22', 'a21', 'a20']);
  });

  it('keeps paging stable when an alert is updated between two pages', async () => {
    const first = await store.list({ limit: 10 });
    await put(makeAlert({ id: 'a05', level: 'critical', updatedAt: at(0) }));
    const rest = await all({ limit: 10, cursor: first.nextCursor });
    const ids = [...first.alerts.map((a) => a.id), ...rest.ids];
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(29); // a05 moved above the first page: seen on a fresh listing, not twice here
  });

  describe('over a long history where alerts expire or move while a page is read', () => {
    const p = `${prefix}-gaps`;
    let gaps: AlertStore;
    // 200 alerts, one a minute, a199 the newest; every fifth (a000, a005, ...) is high, the rest info.
    const id = (i: number) => `a${String(i).padStart(3, '0')}`;
    const highs = Array.from({ length: 200 }, (_, i) => 199 - i).filter((i) => i % 5 === 0).map(id);

    beforeAll(async () => {
      gaps = createAlertStore(redis, p, { days: 30, count: 1000 }, () => NOW);
      for (let i = 0; i < 200; i++) {
        await gaps.update(id(i), async () => ({ alert: makeAlert({ id: id(i), level: i % 5 === 0 ? 'high' : 'info', updatedAt: at(300 - i) }), result: undefined }));
      }
    });
    afterAll(async () => {
      await cleanPrefix(p);
    });

    /** Every page of a query, on a given store. */
    async function pages(s: AlertStore, query: Parameters<AlertStore['list']>[0]): Promise<string[]> {
      const ids: string[] = [];
      let cursor = query.cursor;
      for (let n = 0; n < 100; n++) {
        const page = await s.list({ ...query, cursor });
        ids.push(...page.alerts.map((a) => a.id));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      return ids;
    }

    it('passes over expired alerts without skipping the live ones behind them', async () => {
      // The newest info alerts are gone (their keys expired) while the index still names them; the listing drops
      // those entries as it meets them.
      const expired = Array.from({ length: 45 }, (_, i) => 199 - i).filter((i) => i % 5 !== 0);
      await redis.del(...expired.map((i) => keyFor(p, 'alert', id(i))));
      expect(await pages(gaps, { level: 'high', limit: 30 })).toEqual(highs);
      const live = Array.from({ length: 200 }, (_, i) => 199 - i).filter((i) => !expired.includes(i)).map(id);
      expect(await pages(gaps, { limit: 500 })).toEqual(live);
    });

    it('does not skip an alert when one it has already read moves to the top while the page is read', async () => {
      const first = await gaps.list({ level: 'high', limit: 4 });
      // Between two batches of the next page, an alert that page has just read is updated (and leaves its range).
      let moved: string | undefined;
      const racing = new Proxy(redis, {
        get(target, prop) {
          if (prop === 'zrevrangebyscore') {
            return async (...args: Parameters<Redis['zrevrangebyscore']>) => {
              const flat = (await target.zrevrangebyscore(...args)) as string[];
              if (!moved) {
                // A high alert of this batch (not the one the cursor names), read by this page before it moves.
                moved = flat.filter((_, i) => i % 2 === 0).find((m) => highs.includes(m) && m !== first.alerts.at(-1)!.id)!;
                await gaps.update(moved, async (a) => ({ alert: { ...a!, updatedAt: at(0) }, result: undefined }));
              }
              return flat;
            };
          }
          const value = Reflect.get(target, prop, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const rest = await pages(createAlertStore(racing, p, { days: 30, count: 1000 }, () => NOW), { level: 'high', limit: 30, cursor: first.nextCursor });
      expect(moved).toBe('a175');
      expect([...first.alerts.map((a) => a.id), ...rest]).toEqual(highs);
    });
  });

  it('reads a run of alerts updated in the same millisecond, longer than a batch, exactly once', async () => {
    const p = `${prefix}-ties`;
    const ties = createAlertStore(redis, p, { days: 30, count: 1000 }, () => NOW);
    const id = (i: number) => `t${String(i).padStart(3, '0')}`;
    for (let i = 0; i < 130; i++) {
      await ties.update(id(i), async () => ({ alert: makeAlert({ id: id(i), level: i % 5 === 0 ? 'high' : 'info', updatedAt: i < 120 ? at(5) : at((130 - i) / 10) }), result: undefined }));
    }
    // Some of the run have expired; equal times sort by id, highest first.
    const expired = [119, 118, 101, 64, 63, 2];
    await redis.del(...expired.map((i) => keyFor(p, 'alert', id(i))));
    const newestFirst = [...Array.from({ length: 10 }, (_, i) => 129 - i), ...Array.from({ length: 120 }, (_, i) => 119 - i)].filter((i) => !expired.includes(i));
    const walk = async (query: Omit<Parameters<AlertStore['list']>[0], 'cursor'>) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 100; n++) {
        const page = await ties.list({ ...query, cursor });
        ids.push(...page.alerts.map((a) => a.id));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      return ids;
    };
    expect(await walk({ level: 'high', limit: 30 })).toEqual(newestFirst.filter((i) => i % 5 === 0).map(id));
    expect(await walk({ limit: 7 })).toEqual(newestFirst.map(id));
    expect(await walk({ level: 'info', limit: 500, scanBudget: 45 })).toEqual(newestFirst.filter((i) => i % 5 !== 0).map(id));
    await cleanPrefix(p);
  });

  it('refuses a cursor it did not produce', async () => {
    await expect(store.list({ limit: 5, cursor: 'bm90LWEtY3Vyc29y!' })).rejects.toThrow(RangeError);
  });

  it('deletes the oldest alerts beyond the count limit', async () => {
    const small = createAlertStore(redis, `${prefix}-small`, { days: 30, count: 3 }, () => NOW);
    for (let i = 0; i < 5; i++) {
      await small.update(`s${i}`, async () => ({ alert: makeAlert({ id: `s${i}`, updatedAt: at(10 - i) }), result: undefined }));
    }
    const page = await small.list({ limit: 10 });
    expect(page.alerts.map((a) => a.id)).toEqual(['s4', 's3', 's2']);
    expect(await small.get('s0')).toBeUndefined();
    await cleanPrefix(`${prefix}-small`);
  });

  it('keeps exactly the newest alerts up to the count limit when several are folded at once', async () => {
    // Trimming by the count each write read (stale once another write and trim came in between) left fewer than
    // the limit here in about one run in five.
    const small = createAlertStore(redis, `${prefix}-burst`, { days: 30, count: 3 }, () => NOW);
    for (let round = 0; round < 8; round++) {
      await Promise.all(
        Array.from({ length: 8 }, (_, j) => {
          const id = `b${round * 8 + j}`;
          return small.update(id, async () => ({ alert: makeAlert({ id, updatedAt: at(100 - round * 8 - j) }), result: undefined }));
        }),
      );
    }
    expect((await small.list({ limit: 20 })).alerts.map((a) => a.id)).toEqual(['b63', 'b62', 'b61']);
    await cleanPrefix(`${prefix}-burst`);
  });

  it('does not delete an alert updated after the trim chose it as the oldest', async () => {
    const p = `${prefix}-trim-race`;
    const plain = createAlertStore(redis, p, { days: 30, count: 2 }, () => NOW);
    const write = (s: AlertStore, id: string, minutesAgo: number, sources = ['wire']) =>
      s.update(id, async () => ({ alert: makeAlert({ id, updatedAt: at(minutesAgo), sources }), result: undefined }));
    await write(plain, 'old', 10);
    await write(plain, 'mid', 9);
    // The real client, but the oldest alert gets a new source just after the trim has read which alerts are oldest.
    let raced = false;
    const racing = new Proxy(redis, {
      get(target, prop) {
        if (prop === 'zrange') {
          return async (...args: Parameters<Redis['zrange']>) => {
            const oldest = await target.zrange(...args);
            if (!raced) {
              raced = true;
              await write(plain, 'old', 0, ['wire', 'late-outlet']);
            }
            return oldest;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await write(createAlertStore(racing, p, { days: 30, count: 2 }, () => NOW), 'new', 8);
    expect(raced).toBe(true);
    expect((await plain.get('old'))?.sources).toEqual(['wire', 'late-outlet']);
    expect((await plain.list({ limit: 10 })).alerts.map((a) => a.id)).toContain('old');
    await cleanPrefix(p);
  });

  it('loses no update when 40 writers fold into one alert at once', async () => {
    // Each writer adds its item to the alert it read; a write made on a stale read must be redone on the newer alert.
    const id = 'crowded';
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        store.update(id, async (previous) => {
          const base = previous ?? makeAlert({ id, updatedAt: at(0), sources: [] });
          return { alert: { ...base, sources: [...base.sources, `s${i}`] }, result: undefined, items: [`item-${i}`] };
        }),
      ),
    );
    const alert = (await store.get(id))!;
    expect(new Set(alert.sources).size).toBe(40);
    expect(alert.sources).toHaveLength(40);
    for (let i = 0; i < 40; i++) expect(await store.hasItem(id, `item-${i}`)).toBe(true);
  });

  it('runs the update again on the newer alert when another writer changed it in between, and writes nothing for null', async () => {
    const id = 'raced';
    let conflicts = 0;
    const store = createAlertStore(redis, prefix, { days: 30, count: 1000 }, () => NOW, () => conflicts++);
    await put(makeAlert({ id, updatedAt: at(0), sources: ['first'] }));
    const seen: string[][] = [];
    let interfered = false;
    await store.update(id, async (previous) => {
      seen.push(previous!.sources);
      if (!interfered) {
        interfered = true;
        await put({ ...previous!, sources: [...previous!.sources, 'other'] });
      }
      return { alert: { ...previous!, sources: [...previous!.sources, 'mine'] }, result: undefined };
    });
    expect(seen).toEqual([['first'], ['first', 'other']]);
    expect(conflicts).toBe(1);
    expect((await store.get(id))!.sources).toEqual(['first', 'other', 'mine']);
    const before = await redis.get(`{${prefix}}:alert:${id}`);
    expect(await store.update(id, async () => ({ alert: null, result: 'unchanged' }))).toBe('unchanged');
    expect(await redis.get(`{${prefix}}:alert:${id}`)).toBe(before);
  });

  it('starts an update from the alert as read for it, and runs it again when the alert changed since that read', async () => {
    const id = 'snap';
    await put(makeAlert({ id, updatedAt: at(0), sources: ['first'] }));
    const read = await store.readForUpdate([id, 'snap-none']);
    expect(read.get(id)!.alert!.sources).toEqual(['first']);
    expect(read.get('snap-none')!.alert).toBeUndefined();
    await put(makeAlert({ id, updatedAt: at(0), sources: ['first', 'other'] }));
    const seen: string[][] = [];
    await store.update(id, async (previous) => {
      seen.push(previous!.sources);
      return { alert: { ...previous!, sources: [...previous!.sources, 'mine'] }, result: undefined };
    }, read.get(id));
    // The stale read was tried first; the write saw the change and the update ran on the newer alert.
    expect(seen).toEqual([['first'], ['first', 'other']]);
    expect((await store.get(id))!.sources).toEqual(['first', 'other', 'mine']);
    // An absent alert read as absent is created without another read.
    await store.update('snap-none', async (previous) => ({ alert: previous ?? makeAlert({ id: 'snap-none', updatedAt: at(0) }), result: undefined }), read.get('snap-none'));
    expect(await store.get('snap-none')).toBeDefined();
    expect(await store.readForUpdate([])).toEqual(new Map());
  });

  it('remembers which items were folded into an alert', async () => {
    await store.update('a10', async (previous) => ({ alert: previous!, result: undefined, items: ['item-x'] }));
    expect(await store.hasItem('a10', 'item-x')).toBe(true);
    expect(await store.hasItem('a10', 'item-y')).toBe(false);
  });
});

describe('an alert the count limit deletes', () => {
  it('leaves its last version and level, which an update that finds it gone meanwhile is given', async () => {
    const own = `${prefix}-evicted`;
    const small = createAlertStore(redis, own, { days: 30, count: 2 }, () => NOW);
    const write = (alert: Alert) => small.update(alert.id, async () => ({ alert, result: undefined }));
    await write(makeAlert({ id: 'x', version: 3, level: 'high', updatedAt: at(10) }));
    const stored = (await small.readForUpdate(['x'])).get('x');
    const seen: Array<{ previous?: number; evicted?: unknown }> = [];
    await small.update(
      'x',
      async (previous, evicted) => {
        seen.push({ previous: previous?.version, evicted });
        // Another worker's two newer alerts push x out between this read and its compare-and-set.
        if (seen.length === 1) for (const id of ['y', 'z']) await write(makeAlert({ id, updatedAt: at(5) }));
        const version = previous ? previous.version + 1 : evicted ? evicted.version + 1 : 1;
        return { alert: makeAlert({ id: 'x', version, updatedAt: at(1) }), result: undefined };
      },
      stored,
    );
    expect(seen).toEqual([{ previous: 3, evicted: undefined }, { previous: undefined, evicted: { version: 3, level: 'high' } }]);
    expect((await small.get('x'))?.version).toBe(4);
    await cleanPrefix(own);
  });
});
