/**
 * Pipeline benchmark: N items through poll -> score -> notify with real Redis, local feeds and a local webhook
 * receiver, in a separate worker process; and, in the same run, a no-op BullMQ loop (one job per item on the same
 * Redis) as the ceiling. Prints items/s, fetch->delivery latency (p50/p99), the worker's peak RSS and the ratio.
 *   npx tsx bench/pipeline.ts            (BENCH_ITEMS=5000 BENCH_SOURCES=10 BENCH_ALERT_EVERY=10)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { PACKAGE_ROOT } from '../src/paths.js';
import { rssDocument, startServer } from '../test/helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../test/helpers/redis.js';
import { syntheticEntries } from '../test/helpers/synthetic.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 5000);
const SOURCES = Number(process.env.BENCH_SOURCES ?? 10);
const ALERT_EVERY = Number(process.env.BENCH_ALERT_EVERY ?? 10);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function peakRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

async function pipelineRun(redisUrl: string) {
  const prefix = uniquePrefix('bench');
  const entries = syntheticEntries(ITEMS, { alertEvery: ALERT_EVERY, prefix: 'bench' });
  const perSource = Math.ceil(ITEMS / SOURCES);
  const servedAt = new Map<number, number>();
  const feeds = await startServer((req, res) => {
    const index = Number(/\/feed-(\d+)\.xml/.exec(req.url ?? '')?.[1]);
    servedAt.set(index, servedAt.get(index) ?? Date.now());
    res.writeHead(200, { 'Content-Type': 'application/rss+xml' });
    res.end(rssDocument(`bench ${index}`, entries.slice(index * perSource, (index + 1) * perSource)));
  });
  const received: Array<{ at: number; key: string }> = [];
  const receiver = await startServer((req, res) => {
    received.push({ at: Date.now(), key: String(req.headers['idempotency-key'] ?? '') });
    res.writeHead(200).end('ok');
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'chokepoint-bench-'));
  writeFileSync(
    path.join(dir, 'sources.yaml'),
    `sources:\n${Array.from({ length: SOURCES }, (_, i) => `  - { id: feed-${i}, kind: rss, url: "${feeds.url}/feed-${i}.xml", schedule: "0 0 1 1 *" }`).join('\n')}\n`,
  );
  writeFileSync(
    path.join(dir, 'watchlists.yaml'),
    `watchlists:\n  - id: minerals\n    keywords: [gallium, germanium, samarium, dysprosium, terbium, antimony, graphite, tungsten, neodymium, "rare earth"]\n    routes: [{ channel: hook, minLevel: info }]\n`,
  );
  writeFileSync(path.join(dir, 'channels.yaml'), `channels:\n  - { id: hook, kind: webhook, url: "${receiver.url}/hook" }\n`);
  writeFileSync(
    path.join(dir, 'settings.yaml'),
    `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true, perHostIntervalMs: 0, perHostConcurrency: 16 }\napi: { enabled: false }\nworker: { pollOnStart: true, notifyConcurrency: 16, scoreConcurrency: 4 }\n`,
  );

  const compiled = path.join(PACKAGE_ROOT, 'dist/src/cli/main.js');
  const args = existsSync(compiled) ? [compiled] : ['--import', 'tsx', path.join(PACKAGE_ROOT, 'src/cli/main.ts')];
  const started = Date.now();
  const child = spawn(process.execPath, [...args, 'worker', '--config', dir], {
    env: { ...process.env, REDIS_URL: redisUrl, LOG_LEVEL: 'warn', CI: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssMb(child.pid!))), 200);

  // Every alerting item yields one delivery; wait for all of them (or give up after a while).
  const expected = entries.filter((e) => e.alerting).length;
  const deadline = Date.now() + 300_000;
  while (received.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // Then let the non-alerting tail drain: the score queue must be empty.
  const redis = new Redis(redisUrl);
  const scoreQueue = new Queue('score', { connection: redis, prefix: `{${prefix}}` });
  for (;;) {
    const counts = await scoreQueue.getJobCounts('waiting', 'active', 'delayed');
    if (counts.waiting + counts.active + counts.delayed === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const ended = Math.max(Date.now() - 0, received.at(-1)?.at ?? 0);
  peak = Math.max(peak, peakRssMb(child.pid!));
  clearInterval(sampler);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  await scoreQueue.close();
  redis.disconnect();

  const firstFetch = Math.min(...servedAt.values());
  const latencies = received.map((r) => r.at - firstFetch);
  const duplicates = received.length - new Set(received.map((r) => r.key)).size;
  await Promise.all([feeds.close(), receiver.close()]);
  rmSync(dir, { recursive: true, force: true });
  await cleanPrefix(prefix, redisUrl);
  return {
    seconds: (ended - firstFetch) / 1000,
    startupMs: firstFetch - started,
    itemsPerSecond: ITEMS / ((ended - firstFetch) / 1000),
    delivered: received.length,
    expected,
    duplicates,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    peakRssMb: peak,
  };
}

async function noopRun(redisUrl: string) {
  const prefix = uniquePrefix('bench-noop');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix: `{${prefix}}`, defaultJobOptions: { removeOnComplete: { count: 1000 } } });
  let done = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const worker = new Worker('noop', async () => undefined, { connection: connection.duplicate({ maxRetriesPerRequest: null }), prefix: `{${prefix}}`, concurrency: 16 });
  worker.on('completed', () => {
    if (++done === ITEMS) resolveAll();
  });
  const started = Date.now();
  for (let i = 0; i < ITEMS; i += 500) {
    await queue.addBulk(Array.from({ length: Math.min(500, ITEMS - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
  }
  await all;
  const seconds = (Date.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  await cleanPrefix(prefix, redisUrl);
  return { itemsPerSecond: ITEMS / seconds, seconds };
}

export async function run(): Promise<void> {
  const redisUrl = testRedisUrl();
  console.log(`pipeline: ${ITEMS} items from ${SOURCES} local feeds, 1 in ${ALERT_EVERY} alerting, Redis ${redisUrl}`);
  const noop = await noopRun(redisUrl);
  const pipeline = await pipelineRun(redisUrl);
  console.log(`no-op BullMQ loop (one job per item, concurrency 16): ${noop.itemsPerSecond.toFixed(0)} items/s (${noop.seconds.toFixed(2)} s)`);
  console.log(`pipeline poll->score->notify:                        ${pipeline.itemsPerSecond.toFixed(0)} items/s (${pipeline.seconds.toFixed(2)} s)`);
  console.log(`ratio pipeline / no-op:                              ${(pipeline.itemsPerSecond / noop.itemsPerSecond).toFixed(2)}x (target >= 1.0)`);
  console.log(`deliveries: ${pipeline.delivered}/${pipeline.expected} expected, ${pipeline.duplicates} duplicates`);
  console.log(`fetch->delivery latency: p50 ${pipeline.p50} ms, p99 ${pipeline.p99} ms`);
  console.log(`worker start-up to first fetch: ${pipeline.startupMs} ms; worker peak RSS: ${pipeline.peakRssMb.toFixed(1)} MB (target < 150 MB)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
  process.exit(0);
}
