import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../helpers/process.js';

const run = promisify(execFile);

/**
 * A throwaway three-primary Redis Cluster on local ports (redis-server and redis-cli must be installed), with a
 * replica for each primary when asked.
 */
export interface LocalCluster {
  /** Every node's port, primaries and replicas. */
  ports: number[];
  /** redis://host:port of the primary that serves the slot of `key`. */
  ownerOf(key: string): Promise<string>;
  /**
   * A manual failover of the primary serving the slot of `key` (CLUSTER FAILOVER on its replica: the primary stops
   * taking writes until the replica has caught up, then the replica takes over). Resolves with the new primary's
   * redis://host:port once every node agrees.
   */
  failOver(key: string): Promise<string>;
  /**
   * Moves the slot of `key` to another primary, as `redis-cli --cluster reshard` does, one slot: IMPORTING on the
   * target, MIGRATING on the source, its keys migrated in batches, then the slot assigned to the target everywhere.
   * Resolves with the new owner's redis://host:port and how many keys moved.
   */
  moveSlot(key: string): Promise<{ owner: string; keys: number }>;
  /**
   * SIGKILLs the primary serving the slot of `key` and waits for the automatic failover (its replica elected once the
   * others count it failed: `nodeTimeoutMs`). Resolves with the killed and the new primary's redis://host:port.
   */
  killOwner(key: string): Promise<{ killed: string; owner: string }>;
  close(): Promise<void>;
}

export async function startLocalCluster(options: { replicas?: 0 | 1; nodeTimeoutMs?: number } = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-cluster-'));
  const replicas = options.replicas ?? 0;
  const ports: number[] = [];
  for (let i = 0; i < 3 * (1 + replicas); i++) ports.push(await freePort());
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
        '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
        ...(options.nodeTimeoutMs ? ['--cluster-node-timeout', String(options.nodeTimeoutMs)] : [])],
      { stdio: 'ignore' },
    ),
  );
  const close = async () => {
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((resolve) => (c.once('exit', resolve), c.kill('SIGTERM'))) : undefined)));
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
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    await untilAllNodes(ports, (info) => info.includes('cluster_state:ok'), 'cluster did not become ok');
    // A replica takes part in a failover only once it has synchronised with its primary.
    if (replicas) await untilAllNodes(ports, (_, role) => role[0] !== 'slave' || role[3] === 'connected', 'replicas did not synchronise');
  } catch (err) {
    await close();
    throw err;
  }
  async function ownerOf(key: string): Promise<string> {
    const probe = new Redis({ port: ports[0], host: '127.0.0.1' });
    try {
      const slot = (await probe.cluster('KEYSLOT', key)) as number;
      const ranges = await probe.cluster('SLOTS');
      const owner = servedBy(ranges as Array<Array<unknown>>, slot);
      if (!owner) throw new Error(`no node serves slot ${slot}`);
      return `redis://127.0.0.1:${owner}`;
    } finally {
      probe.disconnect();
    }
  }
  return {
    ports,
    ownerOf,
    async failOver(key) {
      const owner = Number(new URL(await ownerOf(key)).port);
      const probe = new Redis({ port: owner, host: '127.0.0.1' });
      let replica: number | undefined;
      let slot: number;
      try {
        const role = (await probe.role()) as [string, number, Array<[string, string, string]>];
        replica = Number(role[2][0]?.[1]);
        slot = (await probe.cluster('KEYSLOT', key)) as number;
      } finally {
        probe.disconnect();
      }
      if (!replica) throw new Error(`the primary on port ${owner} has no replica`);
      await run('redis-cli', ['-p', String(replica), 'CLUSTER', 'FAILOVER']);
      await untilAllNodes(ports, (_, __, slots) => servedBy(slots, slot) === replica, `port ${replica} did not become the primary of slot ${slot} on every node`);
      return `redis://127.0.0.1:${replica}`;
    },
    async moveSlot(key) {
      const from = Number(new URL(await ownerOf(key)).port);
      const primaries = (await nodesTable(from)).filter((node) => node.flags.includes('master'));
      const source = primaries.find((node) => node.port === from)!;
      // Right after a failover, gossip may still flag the demoted primary a master: ask each candidate itself.
      let target: (typeof primaries)[number] | undefined;
      for (const node of primaries.filter((n) => n.port !== from)) {
        const probe = new Redis({ port: node.port, host: '127.0.0.1' });
        const [role] = (await probe.role()) as [string];
        probe.disconnect();
        if (role === 'master') {
          target = node;
          break;
        }
      }
      if (!target) throw new Error(`no other primary to move slot of ${key} to`);
      const [src, dst] = [new Redis({ port: source.port, host: '127.0.0.1' }), new Redis({ port: target.port, host: '127.0.0.1' })];
      let moved = 0;
      try {
        const slot = (await src.cluster('KEYSLOT', key)) as number;
        await dst.cluster('SETSLOT', slot, 'IMPORTING', source.id);
        await src.cluster('SETSLOT', slot, 'MIGRATING', target.id);
        for (;;) {
          const keys = (await src.cluster('GETKEYSINSLOT', slot, 200)) as string[];
          if (keys.length === 0) break;
          await src.call('MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'REPLACE', 'KEYS', ...keys);
          moved += keys.length;
        }
        // The target first, as redis-cli does: the source then redirects with MOVED to a node that knows it owns the slot.
        await dst.cluster('SETSLOT', slot, 'NODE', target.id);
        await src.cluster('SETSLOT', slot, 'NODE', target.id);
        for (const port of ports.filter((p) => p !== source.port && p !== target.port)) {
          const other = new Redis({ port, host: '127.0.0.1' });
          await other.cluster('SETSLOT', slot, 'NODE', target.id).catch(() => undefined); // replicas follow their primary
          other.disconnect();
        }
        await untilAllNodes(ports, (_, __, slots) => servedBy(slots, slot) === target.port, `slot ${slot} did not move to port ${target.port} on every node`);
      } finally {
        src.disconnect();
        dst.disconnect();
      }
      return { owner: `redis://127.0.0.1:${target.port}`, keys: moved };
    },
    async killOwner(key) {
      const killed = Number(new URL(await ownerOf(key)).port);
      const probe = new Redis({ port: killed, host: '127.0.0.1' });
      const slot = (await probe.cluster('KEYSLOT', key)) as number;
      probe.disconnect();
      children[ports.indexOf(killed)]!.kill('SIGKILL');
      const rest = ports.filter((port) => port !== killed);
      let owner = 0;
      await untilAllNodes(rest, (_, __, slots) => {
        const by = servedBy(slots, slot);
        if (!by || by === killed || (owner && by !== owner)) return false;
        owner = by;
        return true;
      }, `no replica took over slot ${slot} from port ${killed}`, 90_000); // the node timeout, an election, on a busy machine
      return { killed: `redis://127.0.0.1:${killed}`, owner: `redis://127.0.0.1:${owner}` };
    },
    close,
  };
}

/** CLUSTER NODES as seen from one node: id, port and flags of each. */
async function nodesTable(port: number): Promise<Array<{ id: string; port: number; flags: string[] }>> {
  const probe = new Redis({ port, host: '127.0.0.1' });
  try {
    const text = (await probe.cluster('NODES')) as string;
    return text
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map(([id, address, flags]) => ({ id: id!, port: Number(address!.split('@')[0]!.split(':').pop()), flags: flags!.split(',') }));
  } finally {
    probe.disconnect();
  }
}

/** The port of the primary serving `slot` in a CLUSTER SLOTS reply, or NaN when none does. */
function servedBy(slots: Array<Array<unknown>>, slot: number): number {
  const range = slots.find(([from, to]) => slot >= Number(from) && slot <= Number(to));
  return Number((range?.[2] as unknown[] | undefined)?.[1]);
}

/** Waits until every node's CLUSTER INFO, ROLE and CLUSTER SLOTS pass the check, up to `timeoutMs`. */
async function untilAllNodes(
  ports: number[],
  check: (info: string, role: unknown[], slots: Array<Array<unknown>>) => boolean,
  failure: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = true;
    for (const port of ports) {
      const probe = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      try {
        const [info, role, slots] = await Promise.all([probe.cluster('INFO'), probe.role(), probe.cluster('SLOTS')]);
        if (!check(info as string, role as unknown[], slots as Array<Array<unknown>>)) ok = false;
      } catch {
        ok = false;
      } finally {
        probe.disconnect();
      }
      if (!ok) break;
    }
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${failure} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
