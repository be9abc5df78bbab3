import type { Job, Queue } from 'bullmq';
import { vi } from 'vitest';

/** Polls `check` until it returns true; throws with `describe()` in the message when the time runs out. */
export async function waitUntil(check: () => boolean | Promise<boolean>, options: { timeoutMs: number; intervalMs?: number; describe?: () => string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms${options.describe ? `: ${options.describe()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls a BullMQ job until it is in one of `states` (completed or failed); throws with its last state when `timeoutMs`
 * runs out.
 */
export async function jobSettled(queue: Queue, id: string, timeoutMs = 20_000, states = ['completed', 'failed']): Promise<{ job: Job; state: string }> {
  return vi.waitFor(
    async () => {
      // The state first: a job read before it could predate the move that the state shows.
      const state = await queue.getJobState(id);
      const job = await queue.getJob(id);
      if (!job || !states.includes(state)) throw new Error(`job ${id} is ${state}`);
      return { job, state };
    },
    { timeout: timeoutMs, interval: 50 },
  );
}

/** Polls a BullMQ job until it has completed: a failed job is waited on too, and times out. */
export async function jobCompleted(queue: Queue, id: string, timeoutMs = 10_000): Promise<Job> {
  return (await jobSettled(queue, id, timeoutMs, ['completed'])).job;
}
