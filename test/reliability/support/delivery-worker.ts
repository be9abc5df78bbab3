import { startTestWorker } from '../../alerts/harness.js';
import { cleanPrefix } from '../../helpers/redis.js';
import type { Receiver } from './receiver.js';

export type TestWorker = Awaited<ReturnType<typeof startTestWorker>>;

/** The wall clock: pacing slots, backoff and Retry-After waits then run in real time on real BullMQ. */
export const realClock = {
  get now() {
    return Date.now();
  },
};

/** A test worker on the real clock, with no sources and no watchlists unless `files` gives some: deliveries only. */
export function startRealTimeWorker(files: Record<string, string>, env: Record<string, string> = {}): Promise<TestWorker> {
  return startTestWorker({ 'sources.yaml': 'sources: []\n', 'watchlists.yaml': 'watchlists: []\n', ...files }, env, [], realClock);
}

/** Stops the worker and the receiver (either may not have started), then deletes the prefix's keys when one is given. */
export async function stopDeliveryWorker(run: TestWorker | undefined, receiver: Receiver | undefined, prefix?: string): Promise<void> {
  await run?.stop();
  await receiver?.close();
  if (prefix !== undefined) await cleanPrefix(prefix);
}
