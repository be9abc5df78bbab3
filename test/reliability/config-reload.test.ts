import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { type NotifyJob, QUEUES } from '../../src/queue/names.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { type RssEntry, startFeedServer } from '../helpers/http.js';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { waitUntil } from './support/wait.js';
import { endWorkerRun, spawnWorker, type WorkerProcess } from './support/worker-process.js';

/** SIGHUP to a running worker process: the config is re-read, validated and applied, or refused as a whole. */
const prefix = uniquePrefix('reload');
// Three unrelated events (different actors, places and words), so that story clustering keeps them apart.
const STORIES = [
  { title: 'China bans exports of gallium to Zentravix Holdings', description: 'The commerce ministry announced an immediate ban on gallium shipments.' },
  { title: 'Germanium smelter in Yunnan halted after flood, Quorvane Metals says', description: 'Quorvane Metals declared force majeure on germanium deliveries.' },
  { title: 'Antimony licence requirement imposed on Belvastro Trading by Hunan officials', description: 'Provincial officials require export licences for antimony from Belvastro.' },
  { title: 'Gallium refinery in Guangxi pauses output for maintenance, Drovantis Metals says', description: 'Drovantis Metals expects gallium deliveries to slip by two weeks.' },
  { title: 'Antimony mine in Guizhou suspended after landslide, Ferrovanta Mining says', description: 'Ferrovanta Mining halted antimony ore output at its Guizhou pit.' },
  { title: 'Germanium export licences delayed for Kestrelmont Optics, Yunnan officials say', description: 'Kestrelmont Optics expects germanium shipments to slip into spring.' },
  { title: 'Gallium plant of Orvellis Chemicals halted by power rationing in Shanxi', description: 'Orvellis Chemicals stopped gallium production after grid cuts.' },
  { title: 'Tarquendo Resources suspends antimony concentrate sales from Bolivian pit', description: 'Tarquendo cited a strike at its Potosí operation.' },
  { title: 'Germanium wafer orders frozen at Plessimar Photonics after Inner Mongolia audit', description: 'Plessimar says an audit of its Hohhot supplier stopped deliveries.' },
  { title: 'Vantrelle Alloys declares force majeure on gallium from Kazakh refinery', description: 'A boiler explosion in Pavlodar knocked out gallium recovery at Vantrelle.' },
];
const story = (n: number): RssEntry => ({ guid: `reload-${n}`, link: `https://example.org/reload/${n}`, ...STORIES[n - 1] });
const watchlist = (channels: string[]) =>
  `watchlists:\n  - id: minerals\n    keywords: [gallium, germanium, antimony]\n    routes: [${channels.map((c) => `{ channel: ${c}, minLevel: info }`).join(', ')}]\n`;

// The API runs in the worker (loopback, no token) so that the tests can see which config it serves.
const settingsYaml = (extra = '') =>
  `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\napi: { port: 0 }\nriskIndex: { threshold: 1000000000 }\n${extra}`;

const sources = () => `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "*/2 * * * * *" }\n`;
const channels = (extra = '') =>
  `channels:\n  - { id: first, kind: webhook, url: "${receiver.urlFor('first')}" }\n  - { id: second, kind: webhook, url: "${receiver.urlFor('second')}" }\n${extra}`;

let feed: Awaited<ReturnType<typeof startFeedServer>>;
let receiver: Receiver;
let config: { dir: string; cleanup: () => void };
let worker: WorkerProcess;
let redis: Redis;
let apiUrl: string;

beforeAll(async () => {
  feed = await startFeedServer([]);
  receiver = await startReceiver();
  // The first channel answers slowly, so that its notification is still in flight when the reload comes.
  receiver.respond = (req) => ({ status: 200, delayMs: req.channel === 'first' ? 3_000 : 0 });
  config = writeConfigDir({
    'sources.yaml': sources(),
    'watchlists.yaml': watchlist(['first']),
    'channels.yaml': channels(),
    'settings.yaml': settingsYaml(),
  });
  worker = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
  redis = new Redis(testRedisUrl());
  await worker.waitFor(/worker started/, 30_000);
  apiUrl = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*API listening/.exec(worker.output())![1];
}, 40_000);

afterAll(() => endWorkerRun({ worker, servers: [feed, receiver], redis, config, prefix }));

/** Rewrites the whole config directory, sends SIGHUP and returns what the worker logged about it. */
async function reloadWith(files: Record<string, string>, done: RegExp): Promise<string> {
  for (const [name, text] of Object.entries({ 'sources.yaml': sources(), 'watchlists.yaml': watchlist(['second']), 'channels.yaml': channels(), 'settings.yaml': settingsYaml(), ...files })) {
    writeFileSync(path.join(config.dir, name), text);
  }
  const before = worker.output().length;
  worker.child.kill('SIGHUP');
  await waitUntil(() => done.test(worker.output().slice(before)), { timeoutMs: 10_000 });
  return worker.output().slice(before);
}

/**
 * Three alerts (stories of their own, so that they alert three times whether run alone or after the others) on a
 * channel of their own whose setting (`holding`) sends the first and holds the other two back; the reload to `freed`
 * must wake those two, logging `woke`, and they go at once.
 */
async function wakesTheTwoHeldBack(channelId: string, holding: string, freed: string, stories: number[], woke: RegExp): Promise<void> {
  const channel = (extra: string) => channels(`  - { id: ${channelId}, kind: webhook, url: "${receiver.urlFor(channelId)}"${extra} }\n`);
  const notify = new Queue<NotifyJob>(QUEUES.notify, { connection: redis, prefix: `{${prefix}}` });
  const waiting = async () => (await notify.getDelayed()).filter((job) => job?.data.channelId === channelId);
  const sentOnChannel = () => receiver.requests.filter((r) => r.channel === channelId && r.status === 200);
  try {
    await reloadWith({ 'channels.yaml': channel(holding), 'watchlists.yaml': watchlist([channelId]) }, /config reloaded/);
    feed.setEntries(stories.map(story));
    await waitUntil(async () => sentOnChannel().length === 1 && (await waiting()).length === 2, {
      timeoutMs: 20_000,
      describe: () => `${sentOnChannel().length} sent on ${channelId}, the others held back`,
    });

    const reloadedAt = Date.now();
    const logged = await reloadWith({ 'channels.yaml': channel(freed), 'watchlists.yaml': watchlist([channelId]) }, woke);
    expect(logged).toMatch(/"woken":2/);
    await waitUntil(() => sentOnChannel().length === 3, { timeoutMs: 10_000, describe: () => `${sentOnChannel().length}/3 sent on ${channelId}` });
    expect(Date.now() - reloadedAt).toBeLessThan(30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(new Set(sentOnChannel().map((r) => r.link))).toEqual(new Set(stories.map((n) => `https://example.org/reload/${n}`)));
    expect(await waiting()).toEqual([]);
  } finally {
    await notify.close();
  }
}

const sent = (channel: string, n: number) => receiver.requests.filter((r) => r.channel === channel && r.link === `https://example.org/reload/${n}`);

describe('config reload on SIGHUP', () => {
  it('applies a valid new config and lets the notification in flight finish, once', async () => {
    feed.setEntries([story(1)]);
    await waitUntil(() => sent('first', 1).length === 1, { timeoutMs: 20_000 });

    // Reload while that delivery waits for the slow receiver: from now on alerts go to the second channel.
    writeFileSync(path.join(config.dir, 'watchlists.yaml'), watchlist(['second']));
    worker.child.kill('SIGHUP');
    await worker.waitFor(/config reloaded/, 10_000);
    const inFlight = sent('first', 1)[0];
    const deliveries = createDeliveryStore(redis, prefix, 3600);
    // The reload really happened while the delivery was in flight.
    expect((await deliveries.get(deliveryKey(inFlight.alertId, 1, 'first')))?.status).not.toBe('delivered');
    await waitUntil(async () => (await deliveries.get(deliveryKey(inFlight.alertId, 1, 'first')))?.status === 'delivered', { timeoutMs: 10_000 });

    feed.setEntries([story(1), story(2)]);
    await waitUntil(() => sent('second', 2).length === 1, { timeoutMs: 20_000 });
    expect(sent('first', 2)).toEqual([]);
    expect(sent('first', 1)).toHaveLength(1);
    expect(worker.child.exitCode).toBeNull();
  });

  it('keeps the old config when the new one is invalid, and logs every error in it', async () => {
    writeFileSync(path.join(config.dir, 'watchlists.yaml'), watchlist(['second']).replace('minLevel: info', 'minLevel: urgent'));
    writeFileSync(path.join(config.dir, 'sources.yaml'), `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "every now and then" }\n`);
    const before = worker.output().length;
    worker.child.kill('SIGHUP');
    await worker.waitFor(/new config is invalid/, 10_000);
    const logged = worker.output().slice(before);
    expect(logged).toMatch(/new config is invalid \(2 errors\); keeping the old one/);
    expect(logged).toMatch(/sources\.yaml:2[^"]*schedule/);
    expect(logged).toMatch(/watchlists\.yaml:4[^"]*minLevel/);

    // Still the config of the last good reload: a new story goes to the second channel.
    feed.setEntries([story(1), story(2), story(3)]);
    await waitUntil(() => sent('second', 3).length === 1, { timeoutMs: 20_000 });
    expect(worker.child.exitCode).toBeNull();
  });

  it('keeps the old config, in the worker and in its API, when the scorer refuses the new one, and names the watchlist', async () => {
    const watchlists = `${watchlist(['second'])}  - id: magnets\n    materials: [unobtainium]\n    routes: [{ channel: second, minLevel: info }]\n`;
    const logged = await reloadWith({ 'watchlists.yaml': watchlists }, /new config is invalid/);
    expect(logged).toMatch(/new config is invalid \(1 error\); keeping the old one/);
    expect(logged).toMatch(/watchlists\.yaml:6[^"]*watchlists\[1\]\.materials\[0\]: unknown material \\"unobtainium\\"/);
    const status = (await (await fetch(`${apiUrl}/api/status`)).json()) as { watchlists: Array<{ id: string }> };
    expect(status.watchlists.map((w) => w.id)).toEqual(['minerals']);
    expect(worker.child.exitCode).toBeNull();
  });

  it('logs no credential of a new config it refuses, even one written in the file', async () => {
    const secretChannel = '  - { id: third, kind: slack, webhookUrl: "hooks.slack.com/services/T0/B0/LiteralReloadSecret42" }\n';
    const logged = await reloadWith({ 'channels.yaml': channels(secretChannel) }, /new config is invalid/);
    expect(logged).toMatch(/channels\[2\]\.webhookUrl: \(value not shown: a credential\) must be an absolute http\(s\) URL/);
    expect(logged).not.toContain('LiteralReloadSecret42');
  });

  it('wakes a notification waiting for quiet hours the reload takes out: it goes at once, not at their old end', async () => {
    // Quiet hours from two minutes ago to two hours on (UTC), on a third channel.
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const quiet = `quietHours: { start: "${hhmm(Date.now() - 120_000)}", end: "${hhmm(Date.now() + 7_200_000)}" }`;
    const third = (extra: string) => channels(`  - { id: third, kind: webhook, url: "${receiver.urlFor('third')}"${extra} }\n`);
    const notify = new Queue<NotifyJob>(QUEUES.notify, { connection: redis, prefix: `{${prefix}}` });
    const waiting = async () => (await notify.getDelayed()).filter((job) => job?.data.channelId === 'third');
    try {
      await reloadWith({ 'channels.yaml': third(`, ${quiet}`), 'watchlists.yaml': watchlist(['third']) }, /config reloaded/);
      feed.setEntries([story(1), story(2), story(3), story(4)]);
      await waitUntil(async () => (await waiting()).length === 1, { timeoutMs: 20_000, describe: () => 'a notification on the third channel waiting for the quiet hours' });
      expect(receiver.requests.filter((r) => r.channel === 'third')).toEqual([]);

      const logged = await reloadWith({ 'channels.yaml': third(''), 'watchlists.yaml': watchlist(['third']) }, /woke the notifications waiting for quiet hours/);
      expect(logged).toMatch(/"woken":1/);
      await waitUntil(() => sent('third', 4).length === 1, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(sent('third', 4)).toHaveLength(1);
      expect(await waiting()).toEqual([]);
    } finally {
      await notify.close();
    }
  });

  it('wakes the notifications waiting for their slot of a pace the reload takes out: they go at once', async () => {
    // One send a minute: of three alerts, the first goes at once, the others wait a minute and two.
    await wakesTheTwoHeldBack('paced', ', rateLimit: { perMinute: 1, burst: 1 }', ', rateLimit: false', [5, 6, 7], /woke the notifications waiting for their slot of the pace/);
  });

  it('wakes the notifications a throttle the reload takes out delayed to a later hour: they go at once', async () => {
    // One send an hour: of three alerts, the first goes at once, the throttle delays the others by an hour.
    await wakesTheTwoHeldBack('throttled', ', throttle: { maxPerHour: 1 }', '', [8, 9, 10], /woke the notifications waiting for a moment of the throttle/);
  });

  it('names every changed setting that takes effect only on restart', async () => {
    const logged = await reloadWith(
      { 'settings.yaml': settingsYaml('alerts: { storyWindowHours: 48 }\nretention: { alertDays: 30 }\ndelivery: { attempts: 5, maxRateLimitWaits: 9 }\n').replace('threshold: 1000000000', 'threshold: 2000000000') },
      /config reloaded/,
    );
    const warning = logged.split('\n').find((line) => line.includes('take effect only on restart'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!).settings).toEqual(['retention.alertDays', 'delivery.attempts', 'alerts.storyWindowHours', 'riskIndex.threshold']);
  });
});
