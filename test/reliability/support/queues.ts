import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '../../../src/queue/names.js';

/** Read-only view of a prefix's queues: is any job still waiting, running (or stalled) or delayed? */
export async function openQueues(redisUrl: string, prefix: string) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection, prefix: `{${prefix}}` }));
  return {
    async pending(): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      for (const queue of queues) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        out[queue.name] = Object.values(counts).reduce((a, b) => a + b, 0);
      }
      return out;
    },
    async failed(): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      for (const queue of queues) out[queue.name] = await queue.getFailedCount();
      return out;
    },
    async close() {
      await Promise.all(queues.map((q) => q.close()));
      connection.disconnect();
    },
  };
}

/** True when nothing is left in any queue. */
export function drained(pending: Record<string, number>): boolean {
  return Object.values(pending).every((n) => n === 0);
}
