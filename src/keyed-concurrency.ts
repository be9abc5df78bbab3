/**
 * Runs fn over items grouped by key: the items of one key one after another, in their order; different keys
 * concurrently, at most `limit` keys at a time. Results come back in the items' order.
 *
 * For work on Redis records: one record's updates keep their order, and the round trips of different records
 * overlap instead of queueing behind one another. Every group is let finish before a failure is reported, so no
 * work of a failed call is still running when its caller retries it.
 */
export async function mapByKey<T, R>(items: readonly T[], keyOf: (item: T) => string, fn: (item: T) => Promise<R>, limit = 8): Promise<R[]> {
  const groups = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(index);
    else groups.set(key, [index]);
  });
  const results = new Array<R>(items.length);
  const queue = [...groups.values()];
  const failures: unknown[] = [];
  const lane = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      // A failed item stops the rest of its key (they may depend on it); other keys go on.
      try {
        for (const index of group) results[index] = await fn(items[index]!);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, lane));
  if (failures.length > 0) throw failures[0];
  return results;
}

/** One holder at a time, in the order they asked. */
export interface Mutex {
  /** Resolves once the caller holds it, with the function that lets the next one in (calling it again does nothing). */
  acquire(): Promise<() => void>;
}

export function createMutex(): Mutex {
  let tail: Promise<void> = Promise.resolve();
  return {
    async acquire() {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const before = tail;
      tail = before.then(() => held);
      await before;
      return release;
    },
  };
}
