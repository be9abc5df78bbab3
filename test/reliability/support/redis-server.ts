import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../helpers/process.js';

/**
 * A redis-server of our own on a free port and a temp directory, so a test can kill and restart it. AOF is on with
 * fsync on every write: what Redis acknowledged is on disk, the strictest reading of "nothing acknowledged is lost".
 */
export interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL (no shutdown save): only the AOF survives. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and deletes its directory. */
  close(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startOwnRedis(options: { appendonly?: boolean; appendfsync?: 'always' | 'everysec'; args?: string[] } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly === false ? 'no' : 'yes',
        '--appendfsync', options.appendfsync ?? 'always', '--maxmemory-policy', 'noeviction', ...(options.args ?? [])],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await ping(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`redis-server on port ${port} did not answer`);
  };
  const stop = async (signal: NodeJS.Signals) => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill: () => stop('SIGKILL'),
    start,
    async close() {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
