/**
 * What a synchronous run returns, and the CPU time it took in ms. CPU time, not wall time: the time the process waits
 * for a core on a busy machine (a CI runner running other test files at once) does not count, while a blow-up in the
 * work itself does.
 */
export function withCpuMs<T>(run: () => T): { value: T; ms: number } {
  const started = process.cpuUsage();
  const value = run();
  const { user, system } = process.cpuUsage(started);
  return { value, ms: (user + system) / 1000 };
}
