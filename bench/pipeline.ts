/**
 * Pipeline benchmark: N items through poll -> score -> notify with real Redis, local feeds and a local webhook
 * receiver, in a separate worker process; and, in the same run, a no-op BullMQ loop (one job per item on the same
 * Redis) as the ceiling. Prints items/s, fetch->delivery latency (p50/p99), the worker's peak RSS and the ratio.
 *   npx tsx bench/pipeline.ts      (BENCH_ITEMS=20000 BENCH_SOURCES=10 BENCH_ALERT_EVERY=10 BENCH_NOOP_CONCURRENCY=16
 *                                   BENCH_WORKERS=1 BENCH_NOOP=1 BENCH_ALERT_SWEEP=30,100 BENCH_WARMUP=1 BENCH_API=1
 *                                   BENCH_ROLES="poll,score,scheduler;notify": one worker per role group)
 *
 * The main run alerts on 1 item in 10, a heavy day. Each alert costs far more than an item that does not alert (a
 * story, an alert, a dispatch decision, a notify job, an HTTP delivery and its ledger entry), so the run is repeated
 * at the rates of BENCH_ALERT_SWEEP to show where the pipeline meets the no-op loop.
 *
 * The worker is started as users start it, `bin/chokepoint.js worker` (dist/ when built, which npm install does, else
 * TypeScript through tsx, whose compiler then counts in the RSS; the run says which). BENCH_WORKER_MAIN points at
 * another entry point. The worker gets the heap flags of `npm start`; CHOKEPOINT_WORKER_NODE_ARGS adds node flags.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { PACKAGE_ROOT } from '../src/paths.js';
import { QUEUES, type PollJob } from '../src/queue/names.js';
import { enqueuePoll } from '../src/queue/scheduler.js';
import { writeConfigDir } from '../test/helpers/config-dir.js';
import { rssDocument, startServer } from '../test/helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../test/helpers/redis.js';
import { syntheticEntries } from '../test/helpers/synthetic.js';
import { spawnWorker, startEnv, startHeapFlags } from '../test/reliability/support/worker-process.js';

// 20,000 by default: at 5,000 the run is over before V8 has compiled the alert path (a story, an alert, a delivery
// are each taken a few hundred times), and a worker that runs for months is measured warm.
const ITEMS = Number(process.env.BENCH_ITEMS ?? 20000);
const SOURCES = Number(process.env.BENCH_SOURCES ?? 10);
const ALERT_EVERY = Number(process.env.BENCH_ALERT_EVERY ?? 10);
const NOOP_CONCURRENCY = Number(process.env.BENCH_NOOP_CONCURRENCY ?? 16);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP ?? 1);
// The worker serves the API (metrics, dashboard, queue board) as `npm start` does by default; BENCH_API=0 leaves it out.
const WITH_API = process.env.BENCH_API !== '0';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds the Redis server has used (user + system), from INFO: it shares the machine with the worker. */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Which worker entry point the bench runs, and whether it runs compiled code. */
function workerMain(): { main: string; compiled: boolean } {
  const override = process.env.BENCH_WORKER_MAIN;
  if (override) return { main: path.resolve(override), compiled: override.endsWith('.js') };
  return { main: path.join(PACKAGE_ROOT, 'bin/chokepoint.js'), compiled: existsSync(path.join(PACKAGE_ROOT, 'dist/src/cli/main.js')) };
}

interface RoundFigures {
  seconds: number;
  itemsPerSecond: number;
  delivered: number;
  expected: number;
  duplicates: number;
  p50: number;
  p99: number;
  cpuMsPerThousand: number;
  redisCpuMsPerThousand: number;
}

async function pipelineRun(redisUrl: string, alertEvery = ALERT_EVERY) {
  const prefix = uniquePrefix('bench');
  // Round 0 warms the worker up (its first items after start), the last round is the measured one: a worker runs
  // for months, and in its first seconds V8 is still compiling the alert path (measured: ~600 functions, over 5 s of
  // compiler threads' CPU in the first 20,000 items at 1 in 10). Every round has items of its own, so stories and
  // alerts do not carry over. BENCH_WARMUP=0 measures the cold worker alone.
  const rounds = 1 + WARMUP_ROUNDS;
  const entries = syntheticEntries(ITEMS * rounds, { alertEvery, prefix });
  const perSource = Math.ceil(ITEMS / SOURCES);
  const feedsXml = Array.from({ length: rounds }, (_, r) => {
    const own = entries.slice(r * ITEMS, (r + 1) * ITEMS);
    return Array.from({ length: SOURCES }, (_, i) => rssDocument(`bench ${i}`, own.slice(i * perSource, (i + 1) * perSource)));
  });
  const sourceOfLink = new Map(entries.map((e, i) => [e.link, Math.floor((i % ITEMS) / perSource)]));
  const roundOfLink = new Map(entries.map((e, i) => [e.link, Math.floor(i / ITEMS)]));
  let round = 0;
  let unknown = 0;
  const servedAt = Array.from({ length: rounds }, () => new Map<number, number>());
  // The round whose feeds are served (the last one stays up while the workers stop).
  const serving = () => Math.min(round, rounds - 1);
  const feeds = await startServer((req, res) => {
    const index = Number(/\/feed-(\d+)\.xml/.exec(req.url ?? '')?.[1]);
    if (!servedAt[serving()]!.has(index)) servedAt[serving()]!.set(index, Date.now());
    res.writeHead(200, { 'Content-Type': 'application/rss+xml' });
    res.end(feedsXml[serving()]![index]);
  });
  const received = Array.from({ length: rounds }, () => [] as Array<{ at: number; key: string; source: number }>);
  const receiver = await startServer((req, res, body) => {
    const link = (JSON.parse(body) as { alert?: { items?: Array<{ url: string | null }> } }).alert?.items?.[0]?.url ?? '';
    const of = roundOfLink.get(link);
    if (of === undefined) unknown++;
    else received[of]!.push({ at: Date.now(), key: String(req.headers['idempotency-key'] ?? ''), source: sourceOfLink.get(link) ?? -1 });
    res.writeHead(200).end('ok');
  });
  const config = writeConfigDir({
    'sources.yaml': `sources:\n${Array.from({ length: SOURCES }, (_, i) => `  - { id: feed-${i}, kind: rss, url: "${feeds.url}/feed-${i}.xml", schedule: "0 0 1 1 *" }`).join('\n')}\n`,
    'watchlists.yaml': `watchlists:\n  - id: minerals\n    keywords: [gallium, germanium, samarium, dysprosium, terbium, antimony, graphite, tungsten, neodymium, "rare earth"]\n    routes: [{ channel: hook, minLevel: info }]\n`,
    'channels.yaml': `channels:\n  - { id: hook, kind: webhook, url: "${receiver.url}/hook" }\n`,
    // The risk index would add one alert per material on top of the per-story ones: off, so the count is exact. The
    // API listens on a free port (port 0) so that runs never collide.
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true, perHostIntervalMs: 0, perHostConcurrency: 16 }\napi: { ${WITH_API ? 'port: 0' : 'enabled: false'} }\nworker: { pollOnStart: true, notifyConcurrency: 16, scoreConcurrency: ${process.env.BENCH_SCORE_CONCURRENCY ?? 2} }\nriskIndex: { threshold: 1000000000 }\n`,
  });

  const { main, compiled } = workerMain();
  const started = Date.now();
  // BENCH_ROLES splits the work by role, one process per group ("poll,score,scheduler;notify"), to see what each costs.
  const roleGroups = process.env.BENCH_ROLES?.split(';').filter(Boolean);
  const missing = roleGroups ? ['poll', 'score', 'notify', 'scheduler'].filter((r) => !roleGroups.some((g) => g.split(',').includes(r))) : [];
  if (missing.length > 0) throw new Error(`BENCH_ROLES must give every role to some group; missing: ${missing.join(', ')}`);
  const workers = (roleGroups ?? Array.from({ length: WORKERS }, () => undefined)).map((roles) =>
    spawnWorker({ main, configDir: config.dir, env: { REDIS_URL: redisUrl, LOG_LEVEL: 'warn', CHOKEPOINT_API_TOKEN: 'bench-api-token' }, echo: true, args: roles ? ['--role', roles] : [] }),
  );
  const alive = () => workers.some((w) => w.child.exitCode === null);
  const cpu = () => workers.reduce((sum, w) => sum + w.cpuSeconds(), 0);
  const redis = new Redis(redisUrl);
  const queues = ['score', 'notify'].map((name) => new Queue(name, { connection: redis, prefix: `{${prefix}}` }));
  const pollQueue = new Queue<PollJob>(QUEUES.poll, { connection: redis, prefix: `{${prefix}}` });
  // Stops the workers (their peak RSS is the result) and removes everything the run set up.
  const shutdown = async () => {
    const peaks = await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([...queues, pollQueue].map((q) => q.close()));
    redis.disconnect();
    await Promise.all([feeds.close(), receiver.close()]);
    config.cleanup();
    await cleanPrefix(prefix, redisUrl);
    return Math.max(...peaks);
  };
  const figures: RoundFigures[] = [];
  let startupMs = Number.NaN;
  const roleCpuAtRound: number[][] = [];

  for (round = 0; round < rounds; round++) {
    const deadline = Date.now() + TIMEOUT_MS;
    const served = servedAt[round]!;
    const got = received[round]!;
    // Round 0 is polled at start (pollOnStart); later rounds as the scheduler would on a tick.
    if (round > 0) for (let i = 0; i < SOURCES; i++) await enqueuePoll(pollQueue, `feed-${i}`, Date.now());
    const expected = entries.slice(round * ITEMS, (round + 1) * ITEMS).filter((e) => e.alerting).length;
    // CPU the worker spends on the items (start-up excluded): steadier than items/s on a shared machine.
    while (served.size === 0 && Date.now() < deadline && alive()) await sleep(5);
    const cpuAtFirstFetch = cpu();
    const redisCpuAtFirstFetch = await redisCpuSeconds(redis);
    roleCpuAtRound.push(workers.map((w) => w.cpuSeconds()));
    while (got.length < expected && Date.now() < deadline && alive()) await sleep(20);
    // Then let the non-alerting tail drain: the score and notify queues must be empty.
    for (;;) {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
      if (counts.every((c) => Object.values(c).every((n) => n === 0)) || Date.now() > deadline) break;
      await sleep(20);
    }
    if (got.length < expected || served.size < SOURCES) {
      const why = alive() ? `within ${TIMEOUT_MS} ms (BENCH_TIMEOUT_MS)` : 'before the worker exited';
      await shutdown();
      throw new Error(`round ${round}: ${got.length}/${expected} deliveries, ${served.size}/${SOURCES} feeds fetched ${why}`);
    }
    const ended = Math.max(Date.now(), got.at(-1)?.at ?? 0);
    const firstFetch = Math.min(...served.values());
    if (round === 0) startupMs = firstFetch - started;
    const latencies = got.map((r) => r.at - (served.get(r.source) ?? firstFetch));
    const seconds = (ended - firstFetch) / 1000;
    figures.push({
      seconds,
      itemsPerSecond: ITEMS / seconds,
      delivered: got.length,
      expected,
      duplicates: got.length - new Set(got.map((r) => r.key)).size,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuMsPerThousand: ((cpu() - cpuAtFirstFetch) * 1e6) / ITEMS,
      redisCpuMsPerThousand: (((await redisCpuSeconds(redis)) - redisCpuAtFirstFetch) * 1e6) / ITEMS,
    });
  }
  // Per group, for the measured round: compare groups with each other (the total is in the figures).
  if (roleGroups) {
    const at = roleCpuAtRound.at(-1)!;
    roleGroups.forEach((roles, i) => console.log(`  worker ${roles}: ${(((workers[i].cpuSeconds() - at[i]!) * 1e6) / ITEMS).toFixed(0)} ms CPU per 1000 items${workers[i].child.exitCode === null ? '' : ' (exited early)'}`));
  }
  const peakRssMb = await shutdown();
  if (unknown > 0) console.log(`  ${unknown} deliveries of no item of this run`);
  return { compiled, startupMs, peakRssMb, cold: figures[0]!, ...figures.at(-1)! };
}

/** The ceiling: one BullMQ job per item through a worker that does nothing, on the same Redis. */
async function noopRun(redisUrl: string) {
  const prefix = uniquePrefix('bench-noop');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix: `{${prefix}}`, defaultJobOptions: { removeOnComplete: { count: 1000 } } });
  let done = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const worker = new Worker('noop', async () => undefined, {
    connection: connection.duplicate({ maxRetriesPerRequest: null }),
    prefix: `{${prefix}}`,
    concurrency: NOOP_CONCURRENCY,
  });
  worker.on('completed', () => {
    if (++done === ITEMS) resolveAll();
  });
  const started = Date.now();
  const redisCpuAtStart = await redisCpuSeconds(connection);
  for (let i = 0; i < ITEMS; i += 500) {
    await queue.addBulk(Array.from({ length: Math.min(500, ITEMS - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
  }
  await all;
  const seconds = (Date.now() - started) / 1000;
  const redisCpuMsPerThousand = (((await redisCpuSeconds(connection)) - redisCpuAtStart) * 1e6) / ITEMS;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  await cleanPrefix(prefix, redisUrl);
  return { itemsPerSecond: ITEMS / seconds, seconds, redisCpuMsPerThousand };
}

export async function run(): Promise<void> {
  const redisUrl = testRedisUrl();
  console.log(`pipeline: ${ITEMS} items from ${SOURCES} local feeds, 1 in ${ALERT_EVERY} alerting, Redis ${redisUrl}`);
  // BENCH_NOOP=0 skips the ceiling (when profiling the pipeline alone). Warmed up like the worker: a first loop runs
  // before the measured one, in the same process.
  const skipNoop = process.env.BENCH_NOOP === '0';
  const noopCold = skipNoop ? { itemsPerSecond: Number.NaN, seconds: Number.NaN, redisCpuMsPerThousand: Number.NaN } : await noopRun(redisUrl);
  const noop = skipNoop || WARMUP_ROUNDS === 0 ? noopCold : await noopRun(redisUrl);
  const pipeline = await pipelineRun(redisUrl);
  const ratio = pipeline.itemsPerSecond / noop.itemsPerSecond;
  const measured = `${WITH_API ? ', serving the API' : ', API off'}${WARMUP_ROUNDS > 0 ? `, measured after ${WARMUP_ROUNDS} warm-up round${WARMUP_ROUNDS > 1 ? 's' : ''} of ${ITEMS} items` : ', cold'}`;
  console.log(`no-op BullMQ loop (one job per item, concurrency ${NOOP_CONCURRENCY}): ${noop.itemsPerSecond.toFixed(0)} items/s (${noop.seconds.toFixed(2)} s${WARMUP_ROUNDS > 0 ? `; its first loop: ${noopCold.itemsPerSecond.toFixed(0)} items/s` : ''})`);
  console.log(`pipeline poll->score->notify (${WORKERS} worker process${WORKERS > 1 ? 'es' : ''}${measured}): ${pipeline.itemsPerSecond.toFixed(0)} items/s (${pipeline.seconds.toFixed(2)} s, first fetch to last delivery)`);
  console.log(`ratio pipeline / no-op:                              ${ratio.toFixed(2)}x (target >= 1.0) ${ratio >= 1 ? 'MET' : 'NOT MET'}`);
  console.log(`deliveries: ${pipeline.delivered}/${pipeline.expected} expected, ${pipeline.duplicates} duplicates`);
  console.log(`worker CPU: ${pipeline.cpuMsPerThousand.toFixed(0)} ms per 1000 items (user + system, all workers)`);
  // Redis runs on the same machine here: its CPU is the share of the cores the worker cannot have.
  console.log(`Redis CPU: ${pipeline.redisCpuMsPerThousand.toFixed(0)} ms per 1000 items (the no-op loop: ${noop.redisCpuMsPerThousand.toFixed(0)} ms per 1000 jobs)`);
  console.log(`fetch->delivery latency: p50 ${pipeline.p50} ms, p99 ${pipeline.p99} ms`);
  if (WARMUP_ROUNDS > 0) {
    const { cold } = pipeline;
    console.log(
      `first ${ITEMS} items after start (cold worker): ${cold.itemsPerSecond.toFixed(0)} items/s, ratio to the first no-op loop ${(cold.itemsPerSecond / noopCold.itemsPerSecond).toFixed(2)}x; ` +
        `${cold.delivered}/${cold.expected} delivered, ${cold.duplicates} duplicates; ${cold.cpuMsPerThousand.toFixed(0)} ms CPU per 1000 items; p50 ${cold.p50} ms, p99 ${cold.p99} ms`,
    );
  }
  console.log(
    `worker start-up to first fetch: ${pipeline.startupMs} ms; worker peak RSS: ${pipeline.peakRssMb.toFixed(1)} MB (target < 150 MB; started as npm start: ${[...Object.entries(startEnv()).map(([name, value]) => `${name}=${value}`), 'node', ...startHeapFlags(), ...(process.env.CHOKEPOINT_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [])].join(' ')}) ${pipeline.peakRssMb < 150 ? 'MET' : 'NOT MET'}` +
      (pipeline.compiled ? '' : ' [worker run from TypeScript via tsx: run `npm run build` first for the real figure]'),
  );
  const sweep = (process.env.BENCH_ALERT_SWEEP ?? '30,100').split(',').map(Number).filter((n) => n > 0 && n !== ALERT_EVERY);
  for (const alertEvery of sweep) {
    const other = await pipelineRun(redisUrl, alertEvery);
    const r = other.itemsPerSecond / noop.itemsPerSecond;
    console.log(
      `  1 in ${alertEvery} alerting: ${other.itemsPerSecond.toFixed(0)} items/s, ratio ${r.toFixed(2)}x ${r >= 1 ? 'MET' : 'NOT MET'}; ` +
        `${other.delivered}/${other.expected} delivered, ${other.duplicates} duplicates; p50 ${other.p50} ms, p99 ${other.p99} ms; peak RSS ${other.peakRssMb.toFixed(1)} MB`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
  process.exit(0);
}
