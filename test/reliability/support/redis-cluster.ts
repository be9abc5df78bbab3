import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../helpers/process.js';

const run = promisify(execFile);

/** A throwaway three-primary Redis Cluster on local ports (redis-server and redis-cli must be installed). */
export interface LocalCluster {
  ports: number[];
  /** redis://host:port of the primary that serves the slot of `key`. */
  ownerOf(key: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLocalCluster(): Promise<LocalCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
        '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    ),
  );
  const close = async () => {
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((resolve) => (c.once('exit', resolve), c.kill('SIGTERM'))) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A fresh client per attempt, with no reconnection of its own: a retrying client refuses a second connect().
    for (const port of ports) {
      for (let i = 0; ; i++) {
        const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          await probe.ping();
          break;
        } catch (err) {
          if (i > 50) throw err;
          await new Promise((resolve) => setTimeout(resolve, 100));
        } finally {
          probe.disconnect();
        }
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    const probe = new Redis({ port: ports[0], host: '127.0.0.1' });
    for (let i = 0; (await probe.cluster('INFO')).includes('cluster_state:ok') === false; i++) {
      if (i > 100) throw new Error('cluster did not become ok');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    probe.disconnect();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    ports,
    async ownerOf(key) {
      const probe = new Redis({ port: ports[0], host: '127.0.0.1' });
      try {
        const slot = (await probe.cluster('KEYSLOT', key)) as number;
        const ranges = await probe.cluster('SLOTS');
        const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!owner) throw new Error(`no node serves slot ${slot}`);
        return `redis://127.0.0.1:${owner[2][1]}`;
      } finally {
        probe.disconnect();
      }
    },
    close,
  };
}
