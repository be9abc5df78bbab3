import { describe, expect, it } from 'vitest';
import { createMutex, mapByKey } from '../../src/keyed-concurrency.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('work grouped by key (alert folds and dispatches of one score job)', () => {
  it('runs one key in order and different keys at once, and returns results in the items order', async () => {
    const items = ['a1', 'b1', 'a2', 'c1', 'b2', 'a3'];
    const started: string[] = [];
    const inFlight = new Map<string, number>();
    let most = 0;
    let running = 0;
    const results = await mapByKey(
      items,
      (item) => item[0]!,
      async (item) => {
        const key = item[0]!;
        inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
        expect(inFlight.get(key)).toBe(1);
        running++;
        most = Math.max(most, running);
        started.push(item);
        await tick(item === 'a1' ? 30 : 5);
        running--;
        inFlight.set(key, inFlight.get(key)! - 1);
        return item.toUpperCase();
      },
    );
    expect(results).toEqual(['A1', 'B1', 'A2', 'C1', 'B2', 'A3']);
    expect(most).toBe(3);
    // a1 is slow: b and c go on without waiting for it, while a2 and a3 wait for a1.
    expect(started.indexOf('b2')).toBeLessThan(started.indexOf('a2'));
    expect(started.filter((s) => s[0] === 'a')).toEqual(['a1', 'a2', 'a3']);
  });

  it('runs at most `limit` keys at a time', async () => {
    let running = 0;
    let most = 0;
    await mapByKey(
      Array.from({ length: 20 }, (_, i) => i),
      String,
      async () => {
        most = Math.max(most, ++running);
        await tick(2);
        running--;
      },
      4,
    );
    expect(most).toBe(4);
  });

  it('stops a failed key, lets the other keys finish, then rejects with the first failure', async () => {
    const done: string[] = [];
    const call = mapByKey(
      ['a1', 'b1', 'a2', 'b2'],
      (item) => item[0]!,
      async (item) => {
        if (item === 'a1') throw new Error('fold of a1 failed');
        await tick(20);
        done.push(item);
      },
    );
    await expect(call).rejects.toThrow('fold of a1 failed');
    // b's items ran to the end before the call rejected; a2 never ran (it may depend on a1).
    expect(done).toEqual(['b1', 'b2']);
  });

  it('handles no items', async () => {
    expect(await mapByKey([], String, async () => 1)).toEqual([]);
  });
});

describe('the mutex (the poll gate: one feed held in memory at a time per worker)', () => {
  it('lets one holder in at a time, in the order they asked, and ignores a second release', async () => {
    const mutex = createMutex();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    await Promise.all(
      ['a', 'b', 'c', 'd'].map(async (name, i) => {
        await tick(i); // asks in this order
        const release = await mutex.acquire();
        inside++;
        most = Math.max(most, inside);
        log.push(`in ${name}`);
        await tick(5 - i);
        inside--;
        log.push(`out ${name}`);
        release();
        release();
      }),
    );
    expect(most).toBe(1);
    expect(log).toEqual(['in a', 'out a', 'in b', 'out b', 'in c', 'out c', 'in d', 'out d']);
  });
});
