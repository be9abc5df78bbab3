/**
 * The CPU time a synchronous run takes, in ms. CPU time, not wall time: the time the process waits for a core on a
 * busy machine (a CI runner running other test files at once) does not count, while a blow-up in the work itself does.
 */
export function cpuMs(run: () => void): number {
  const started = process.cpuUsage();
  run();
  const { user, system } = process.cpuUsage(started);
  return (user + system) / 1000;
}
