import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalUrl } from '../../src/items/urls.js';
import { createSourceStateStore, type SourceHealth } from '../../src/store/source-state.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { type RssEntry, rssDocument, startServer } from '../helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { syntheticEntries } from '../helpers/synthetic.js';
import { startReceiver } from '../reliability/support/receiver.js';
import { waitUntil } from '../reliability/support/wait.js';
import { spawnWorker } from '../reliability/support/worker-process.js';

/**
 * Hostile sources polled by a real worker process next to two healthy feeds. Each hostile one must fail on its own
 * with a recorded, specific reason (or, for the merely huge ones, be cut down to size), the worker's memory must stay
 * bounded, and the healthy feeds must keep alerting throughout.
 */
const teardown: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

const MB = 1024 * 1024;

function billionLaughs(): string {
  const entities = ['<!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
  return `<?xml version="1.0"?>\n<!DOCTYPE rss [\n${entities.join('\n')}\n]>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>x</guid></item></channel></rss>`;
}

/** 200 gzip members of 1 MB of spaces each: ~200 KB on the wire, 200 MB once decompressed. */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(MB, 0x20), { level: 9 });
  return Buffer.concat(Array.from({ length: 200 }, () => member));
}

function manyItems(count: number): string {
  const entries: RssEntry[] = Array.from({ length: count }, (_, i) => ({ guid: `m${i}`, title: `Shop ${i} opens`, link: `https://many.example.org/${i}`, description: '' }));
  return rssDocument('many', entries);
}

const HOSTILE: Record<string, { expect: RegExp; source?: string }> = {
  dtd: { expect: /^CP_PARSE_DTD_FORBIDDEN$/ },
  'gzip-bomb': { expect: /^CP_SOURCE_TOO_LARGE$/ },
  'over-cap': { expect: /^CP_SOURCE_TOO_LARGE$/, source: 'maxBytes: 1000000' },
  trickle: { expect: /^CP_SOURCE_TIMEOUT$/, source: 'timeoutMs: 2000' },
  'redirect-loop': { expect: /^CP_SOURCE_(REDIRECT_LOOP|TOO_MANY_REDIRECTS)$/ },
  'html-page': { expect: /^CP_PARSE_NOT_A_FEED$/ },
  binary: { expect: /^CP_PARSE_BINARY$/ },
  truncated: { expect: /^CP_PARSE_TRUNCATED$/ },
};

describe('hostile sources polled by the worker', () => {
  it('fail one by one with a recorded reason, in bounded memory, while the healthy feeds keep alerting', async () => {
    const prefix = uniquePrefix('soak-hostile');
    const bomb = gzipBomb();
    const many = manyItems(50_000);
    const good = syntheticEntries(200, { alertEvery: 10, prefix });
    const alertingTitle = `China bans exports of gallium to Zorblat Industries ${'and more '.repeat(MB / 9)}`;
    const trickles = new Set<NodeJS.Timeout>();
    const hostile = await startServer((req, res) => void serveHostile(req, res));
    function serveHostile(req: IncomingMessage, res: ServerResponse) {
      const name = /\/([\w-]+)\.xml/.exec(req.url ?? '')?.[1];
      const xml = (body: string | Buffer, headers: Record<string, string> = {}) => res.writeHead(200, { 'Content-Type': 'application/rss+xml', ...headers }).end(body);
      switch (name) {
        case 'dtd':
          return xml(billionLaughs());
        case 'gzip-bomb':
          return xml(bomb, { 'Content-Encoding': 'gzip' });
        case 'over-cap':
          // No Content-Length: the cap must hold on the stream, not only on the header.
          res.writeHead(200, { 'Content-Type': 'application/rss+xml' });
          for (let i = 0; i < 3; i++) res.write(Buffer.alloc(MB, 0x20));
          return res.end();
        case 'trickle': {
          res.writeHead(200, { 'Content-Type': 'application/rss+xml' });
          res.write('<?xml version="1.0"?><rss version="2.0"><channel>');
          const timer = setInterval(() => res.write(' '), 200);
          trickles.add(timer);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case 'redirect-loop':
          return res.writeHead(302, { Location: '/redirect-loop.xml' }).end();
        case 'html-page':
          return res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!DOCTYPE html><html><head><title>Login</title></head><body><form>Sign in</form></body></html>');
        case 'binary':
          return xml(randomBytes(64 * 1024));
        case 'truncated':
          return xml(rssDocument('cut', good.slice(0, 20)).slice(0, 1500));
        case 'many':
          return xml(many);
        case 'huge-title':
          return xml(rssDocument('big', [{ guid: 'big-1', title: alertingTitle, link: 'https://big.example.org/1', description: 'Gallium export ban.' }]));
        default:
          return res.writeHead(404).end();
      }
    }
    // The healthy feeds live on another host: the hostile ones must not starve them through per-host limits either.
    let released = 100;
    const healthy = await startServer((req, res) => {
      const source = Number(/\/good-(\d)\.xml/.exec(req.url ?? '')?.[1]);
      const mine = good.slice(0, released).filter((_, i) => i % 2 === source);
      res.writeHead(200, { 'Content-Type': 'application/rss+xml', ETag: `"${released}"` }).end(rssDocument(`good ${source}`, mine));
    });
    const receiver = await startReceiver();
    teardown.push(
      () => cleanPrefix(prefix),
      () => hostile.close(),
      () => healthy.close(),
      () => receiver.close(),
      () => trickles.forEach(clearInterval),
    );

    const schedule = '*/3 * * * * *';
    const sources = [
      ...Object.entries(HOSTILE).map(([id, h]) => `  - { id: ${id}, kind: rss, url: "${hostile.url}/${id}.xml", schedule: "${schedule}"${h.source ? `, ${h.source}` : ''} }`),
      `  - { id: many, kind: rss, url: "${hostile.url}/many.xml", schedule: "${schedule}" }`,
      `  - { id: huge-title, kind: rss, url: "${hostile.url}/huge-title.xml", schedule: "${schedule}" }`,
      ...[0, 1].map((i) => `  - { id: good-${i}, kind: rss, url: "${healthy.url}/good-${i}.xml", schedule: "${schedule}" }`),
    ];
    const config = writeConfigDir({
      'sources.yaml': `sources:\n${sources.join('\n')}\n`,
      'watchlists.yaml': `watchlists:\n  - id: minerals\n    keywords: [gallium, germanium, samarium, dysprosium, terbium, antimony, graphite, tungsten, neodymium, "rare earth"]\n    routes: [{ channel: hook, minLevel: info }]\n`,
      'channels.yaml': `channels:\n  - { id: hook, kind: webhook, url: "${receiver.urlFor('hook')}" }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\napi: { enabled: false }\nriskIndex: { threshold: 1000000000 }\n`,
    });
    teardown.push(config.cleanup);

    const worker = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
    teardown.push(() => worker.stop());
    await worker.waitFor(/worker started/, 60_000);

    const redis = new Redis(testRedisUrl());
    teardown.push(() => redis.disconnect());
    const state = createSourceStateStore(redis, prefix);
    const health = new Map<string, SourceHealth | null>();
    const readHealth = async () => {
      for (const id of [...Object.keys(HOSTILE), 'many', 'huge-title', 'good-0', 'good-1']) health.set(id, await state.getHealth(id));
    };
    await waitUntil(
      async () => {
        await readHealth();
        return Object.keys(HOSTILE).every((id) => health.get(id)?.lastErrorCode) && ['many', 'huge-title'].every((id) => health.get(id)?.lastSuccessAt);
      },
      { timeoutMs: 120_000, intervalMs: 500, describe: () => JSON.stringify(Object.fromEntries(health)) },
    );

    // The healthy feeds go on: what was published before and after the hostile ones failed is all delivered.
    released = 200;
    const goodAlerting = new Set(good.filter((e) => e.alerting).map((e) => canonicalUrl(e.link)!));
    await waitUntil(() => [...goodAlerting].every((link) => receiver.accepted('hook').links.has(link)), {
      timeoutMs: 120_000,
      intervalMs: 250,
      describe: () => `${[...goodAlerting].filter((link) => receiver.accepted('hook').links.has(link)).length}/${goodAlerting.size}`,
    });
    await readHealth();
    const peak = worker.peakRssMb();

    const lines = Object.keys(HOSTILE).map((id) => `${id}: ${health.get(id)?.lastErrorCode} "${health.get(id)?.lastError}"`);
    console.log(`[soak] hostile sources, worker peak RSS ${peak.toFixed(0)} MB:\n  ${lines.join('\n  ')}\n  many: ${health.get('many')?.lastItems} items kept of 50,000\n  huge-title: ${health.get('huge-title')?.lastItems} item`);
    for (const [id, h] of Object.entries(HOSTILE)) {
      expect(health.get(id)?.lastErrorCode, id).toMatch(h.expect);
      expect(health.get(id)?.lastError, id).toContain(`"${id}"`);
      expect(health.get(id)?.lastSuccessAt, id).toBeNull();
    }
    expect(health.get('many')?.lastItems).toBe(2_000);
    expect(health.get('huge-title')?.lastItems).toBe(1);
    for (const id of ['good-0', 'good-1']) expect(health.get(id)?.consecutiveFailures, id).toBe(0);
    // The 1 MB title was cut to a readable length before it reached the alert.
    const big = receiver.requests.find((r) => r.link === 'https://big.example.org/1');
    expect(big?.title.length).toBeGreaterThan(20);
    expect(big?.title.length).toBeLessThanOrEqual(1_000);
    expect(worker.child.exitCode).toBeNull();
    // The worker from TypeScript (tsx) idles near 150 MB; a body cap that did not hold would add hundreds.
    expect(peak).toBeLessThan(400);
  });
});
