import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { cleanPrefix } from '../../helpers/redis.js';

/** A `chokepoint worker` child process, as an operator would run it, with its output and memory at hand. */
export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves once the output matches; rejects if the process exits first or the time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Peak resident memory so far (VmHWM), in MB; sampled every 200 ms so it is still known after the exit. */
  peakRssMb(): number;
  /** CPU time (user + system) the process has used so far, in seconds; NaN once it has exited. */
  cpuSeconds(): number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, waits for the exit, returns the peak RSS in MB. */
  stop(): Promise<number>;
  /** SIGKILL, waits for the exit. */
  kill(): Promise<void>;
}

export interface WorkerProcessOptions {
  configDir: string;
  env: NodeJS.ProcessEnv;
  /** Entry point: src/cli/main.ts (the default, run through tsx), a compiled main.js, or bin/chokepoint.js. */
  main?: string;
  args?: string[];
  /** Extra node flags (e.g. --cpu-prof); $CHOKEPOINT_WORKER_NODE_ARGS adds more, for profiling a bench run. */
  nodeArgs?: string[];
  /** Copy the child's output to this process's stderr (benchmarks). */
  echo?: boolean;
}

function readPeakRssMb(pid: number): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

/** utime + stime of a live process from /proc (Linux), in seconds. */
export function readCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), counted after the command name; clock ticks are 100 per second on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function startScriptWords(): string[] {
  const scripts = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  return scripts.start.split(/\s+/);
}

/** The V8 heap flags `npm start` runs the worker with: tests and benchmarks run it the same way. */
export function startHeapFlags(): string[] {
  return startScriptWords().filter((arg) => /^--max-(old|semi)-space-size=\d+$/.test(arg));
}

/** The environment `npm start` sets before `node` (`NAME=value` words in front of it), e.g. MALLOC_ARENA_MAX. */
export function startEnv(): Record<string, string> {
  const words = startScriptWords();
  const assignments = words.slice(0, words.indexOf('node'));
  return Object.fromEntries(assignments.map((word) => /^([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(word)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]));
}

export function spawnWorker(options: WorkerProcessOptions): WorkerProcess {
  const main = options.main ?? path.join(PACKAGE_ROOT, 'src/cli/main.ts');
  const nodeArgs = [
    ...(main.endsWith('.ts') ? ['--import', 'tsx'] : []),
    ...startHeapFlags(),
    ...(options.nodeArgs ?? []),
    ...(process.env.CHOKEPOINT_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, main, 'worker', '--config', options.configDir, ...(options.args ?? [])], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, ...startEnv(), LOG_LEVEL: 'info', ...options.env, CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep the tail only: a soak run writes megabytes of log lines.
  let output = '';
  const append = (d: Buffer) => {
    output += d.toString();
    if (output.length > 4_000_000) output = output.slice(-2_000_000);
    if (options.echo) process.stderr.write(d);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let peak = 0;
  const sample = () => {
    const now = readPeakRssMb(child.pid!);
    if (Number.isFinite(now)) peak = Math.max(peak, now);
  };
  const sampler = setInterval(sample, 200);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      resolve({ code, signal });
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    peakRssMb: () => peak,
    cpuSeconds: () => readCpuSeconds(child.pid!),
    waitFor: (pattern, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          if (pattern.test(output)) return resolve();
          if (!alive()) return reject(new Error(`worker exited before ${pattern}:\n${output.slice(-4000)}`));
          if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${pattern}:\n${output.slice(-4000)}`));
          setTimeout(check, 50);
        };
        check();
      }),
    async stop() {
      sample();
      if (alive()) child.kill('SIGTERM');
      await exited;
      return peak;
    },
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** What a test ran a worker on (a process, or one started in the test's own), ended by endWorkerRun; any part not started yet is skipped. */
export interface WorkerRun {
  worker?: { stop(): Promise<unknown> };
  servers?: Array<{ close(): Promise<unknown> } | undefined>;
  redis?: { disconnect(): void };
  config?: { cleanup(): void };
  /** The test's Redis key prefix, cleaned last. */
  prefix: string;
}

/** Stops the worker first (it still uses the rest), then the servers, the Redis connection, the config and the keys. */
export async function endWorkerRun(run: WorkerRun): Promise<void> {
  await run.worker?.stop();
  await Promise.allSettled((run.servers ?? []).map((server) => server?.close()));
  run.redis?.disconnect();
  run.config?.cleanup();
  await cleanPrefix(run.prefix);
}
