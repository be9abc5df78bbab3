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
