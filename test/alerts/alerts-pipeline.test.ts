import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import type { Item } from '../../src/items/item.js';
import { enqueueDigest, startDigestSchedules } from '../../src/queue/digest-schedule.js';
import { silentLogger } from '../../src/log.js';
import { dispatchDue } from '../../src/alerts/dispatch.js';
import { scoreStage } from '../../src/pipeline/score.js';
import { vi } from 'vitest';
import { jobId } from '../../src/queue/names.js';
import { startSlackSink } from '../helpers/http.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { settle, startTestWorker } from './harness.js';
import { STORY_FIXTURES, SUSPENSION, type StoryFixture } from './story-fixtures.js';

const prefix = uniquePrefix('alerts-pipeline');
const clock = { now: Date.parse('2025-07-01T10:00:00Z') }; // 12:00 in Berlin
let slack: Awaited<ReturnType<typeof startSlackSink>>;
let run: Awaited<ReturnType<typeof startTestWorker>>;
const sent = (channel: string) => slack.messages.filter((m) => m.path.endsWith(`/${channel}`));
const text = (m: { body: unknown }) => JSON.stringify(m.body);

let counter = 0;
function item(f: StoryFixture, publishedAt = new Date(clock.now).toISOString()): Item {
  counter++;
  return { id: `it-${counter}`, sourceId: f.source, title: f.title, summary: f.summary, url: `https://${f.source}.example.org/${counter}`, publishedAt, fetchedAt: new Date(clock.now).toISOString() };
}
const plain = (title: string, source = 'wire-a'): StoryFixture => ({ story: title, source, title, summary: '' });

beforeAll(async () => {
  slack = await startSlackSink();
  const hook = (name: string) => `${slack.url}/services/T0/B0/${name}`;
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': `watchlists:
  - { id: magnets, name: Magnets, minLevel: low, routes: [{ channel: ops, minLevel: low }] }
  - { id: busy, name: Busy desk, minLevel: low, routes: [{ channel: throttled, minLevel: low }] }
  - { id: nightly, name: Night desk, minLevel: low, routes: [{ channel: night, minLevel: low }] }
`,
      'channels.yaml': `channels:
  - { id: ops, kind: slack, webhookUrl: "${hook('ops')}", rateLimit: false }
  - id: throttled
    kind: slack
    webhookUrl: "${hook('throttled')}"
    throttle: { maxPerHour: 2 }
    digest: { schedule: "0 8 * * 1-5", timezone: Asia/Tokyo, immediateLevel: low }
  - id: daily
    kind: slack
    webhookUrl: "${hook('daily')}"
    digest: { schedule: "0 18 * * *", timezone: America/New_York, sendEmpty: true }
  - id: night
    kind: slack
    webhookUrl: "${hook('night')}"
    quietHours: { start: "22:00", end: "07:00", timezone: Europe/Berlin, defer: end }
`,
      'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
alerts: { corroborationMilestones: [5] }
`,
    },
    {},
    ['magnets', 'busy', 'nightly'],
    clock,
  );
});

afterAll(async () => {
  await run?.stop();
  await slack?.close();
  await cleanPrefix(prefix);
});

describe('alerts from stories, end to end through BullMQ with real Redis', () => {
  const [a, b, c, d] = STORY_FIXTURES; // one event reworded by wire-a, wire-b, trade-press and a blog
  const firstItems: Item[] = [];

  it('gives one alert with three sources and one notification for a story from three outlets in two polls', async () => {
    for (const f of [a, b, c]) run.scorer.set(f.title, { watchlistId: 'magnets', level: 'high', entities: ['gallium'] });
    firstItems.push(item(a), item(b), item(c));
    await Promise.all([run.score('wire-a', [firstItems[0]]), run.score('wire-b', [firstItems[1]])]);
    clock.now += 10 * 60_000;
    await run.score('trade-press', [firstItems[2]]);
    const { alerts } = await run.worker.context.stores.alerts.list({ watchlistId: 'magnets', limit: 10 });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ version: 1, level: 'high', itemCount: 3 });
    expect([...alerts[0].sources].sort()).toEqual(['trade-press', 'wire-a', 'wire-b']);
    expect(sent('ops')).toHaveLength(1);
  });

  it('sends nothing when the same items are polled again', async () => {
    await run.score('wire-a', [firstItems[0]]);
    await run.score('trade-press', [firstItems[2], firstItems[1]]);
    expect(sent('ops')).toHaveLength(1);
    const { alerts } = await run.worker.context.stores.alerts.list({ watchlistId: 'magnets', limit: 10 });
    expect(alerts.map((x) => [x.version, x.itemCount])).toEqual([[1, 3]]);
  });

  it('raises the version to 2 and sends one follow-up when an outlet reports a higher level', async () => {
    run.scorer.set(d.title, { watchlistId: 'magnets', level: 'critical', entities: ['gallium'] });
    clock.now += 10 * 60_000;
    await run.score('blog', [item(d)]);
    const [alert] = (await run.worker.context.stores.alerts.list({ watchlistId: 'magnets', limit: 10 })).alerts;
    expect(alert).toMatchObject({ version: 2, level: 'critical', reason: 'escalated' });
    expect(sent('ops')).toHaveLength(2);
    const deliveries = await run.worker.context.stores.deliveries.listForAlert(alert.id);
    expect(deliveries.map((x) => x.key).sort()).toEqual([deliveryKey(alert.id, 1, 'ops'), deliveryKey(alert.id, 2, 'ops')]);
  });

  it('flips the direction when a later item reports the ban suspended', async () => {
    run.scorer.set(SUSPENSION.title, { watchlistId: 'magnets', level: 'medium', direction: 'de-escalation', entities: ['gallium'] });
    clock.now += 24 * 3_600_000;
    await run.score('wire-c', [item(SUSPENSION)]);
    const { alerts } = await run.worker.context.stores.alerts.list({ watchlistId: 'magnets', limit: 10 });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ version: 3, direction: 'de-escalation', reason: 'direction-changed', level: 'critical' });
    expect(sent('ops')).toHaveLength(3);
    expect(text(sent('ops')[2])).toMatch(/suspends ban/);
  });
});

describe('throttles and digests', () => {
  const stories = ['Tungsten output cut at Jiangxi mines', 'Port strike halts cobalt loading in Durban', 'Neodymium magnet plant fire in Ningbo'].map((t) => plain(t));

  it('sends at most N an hour and holds the overflow for the digest, which carries it once', async () => {
    clock.now = Date.parse('2025-07-07T01:00:00Z'); // 10:00 in Tokyo, a Monday
    // One material each: three stories about one material would also raise its risk index (a fourth alert).
    stories.forEach((f, i) => run.scorer.set(f.title, { watchlistId: 'busy', level: 'high', entities: [['tungsten', 'cobalt', 'neodymium'][i]] }));
    for (const f of stories) await run.score('wire-a', [item(f)]);
    expect(sent('throttled').map(text).map((t) => (t.includes('Tungsten') ? 'tungsten' : t.includes('cobalt') ? 'cobalt' : 'other'))).toEqual(['tungsten', 'cobalt']);
    const held = await run.worker.context.stores.digests.pending('throttled', clock.now);
    expect(held).toHaveLength(1);

    // The next digest: 08:00 Tokyo on Tuesday = 23:00 UTC on Monday.
    const windowEnd = Date.parse('2025-07-07T23:00:00Z');
    clock.now = windowEnd;
    await enqueueDigest(run.worker.context.queues.digest, 'throttled', windowEnd);
    await settle(run.worker);
    expect(sent('throttled')).toHaveLength(3);
    const digest = text(sent('throttled')[2]);
    expect(digest).toMatch(/Digest/);
    expect(digest).toContain('Neodymium magnet plant fire in Ningbo');
    expect(digest).not.toContain('Tungsten output cut');
    expect(await run.worker.context.stores.digests.pending('throttled', windowEnd)).toEqual([]);

    // Another replica enqueues the same window, and a retried job runs again: neither sends a second digest.
    await enqueueDigest(run.worker.context.queues.digest, 'throttled', windowEnd);
    await run.worker.context.queues.digest.add('digest', { channelId: 'throttled', windowEnd }, { jobId: 'digest-retry-test' });
    await settle(run.worker);
    expect(sent('throttled')).toHaveLength(3);
  });

  it('enqueues one digest per scheduled slot however many replicas run the schedule', async () => {
    const queue = run.worker.context.queues.digest;
    const channels = [...run.worker.context.runtime.state.channels.values()]
      .filter((c) => c.id === 'throttled')
      .map((c) => ({ ...c, id: 'every-second', digest: { ...c.digest!, schedule: '* * * * * *', timezone: 'Asia/Kolkata' } }));
    const replicas = [startDigestSchedules(channels, queue, silentLogger()), startDigestSchedules(channels, queue, silentLogger())];
    try {
      await vi.waitFor(async () => expect((await queue.getJobs(['completed'])).filter((j) => j.data.channelId === 'every-second').length).toBeGreaterThanOrEqual(2), { timeout: 5_000, interval: 100 });
    } finally {
      await Promise.all(replicas.map((r) => r.stop()));
    }
    await settle(run.worker);
    const jobs = (await queue.getJobs(['completed', 'waiting', 'active', 'delayed'])).filter((j) => j.data.channelId === 'every-second');
    expect(new Set(jobs.map((j) => j.data.windowEnd)).size).toBe(jobs.length);
    for (const job of jobs) {
      expect(job.id).toBe(`digest-every-second-${job.data.windowEnd}`);
      expect(job.data.windowEnd % 1000).toBe(0);
    }
  });

  it('sends nothing for an empty window', async () => {
    const windowEnd = Date.parse('2025-07-08T23:00:00Z');
    clock.now = windowEnd;
    await enqueueDigest(run.worker.context.queues.digest, 'throttled', windowEnd);
    await settle(run.worker);
    expect(sent('throttled')).toHaveLength(3);
  });

  it('sends an empty digest when the channel asks for one', async () => {
    const windowEnd = Date.parse('2025-07-08T22:00:00Z'); // 18:00 in New York
    await enqueueDigest(run.worker.context.queues.digest, 'daily', windowEnd);
    await settle(run.worker);
    expect(sent('daily')).toHaveLength(1);
    expect(text(sent('daily')[0])).toMatch(/Digest/);
  });
});

describe('quiet hours', () => {
  it('defers an alert to the end of quiet hours and lets a critical one through at once', async () => {
    clock.now = Date.parse('2025-07-01T21:30:00Z'); // 23:30 in Berlin
    const high = plain('Gallium smelter outage in Yunnan');
    const critical = plain('Germany halts all rare earth magnet imports from China');
    run.scorer.set(high.title, { watchlistId: 'nightly', level: 'high' });
    run.scorer.set(critical.title, { watchlistId: 'nightly', level: 'critical' });
    await run.score('wire-a', [item(high)]);
    expect(sent('night')).toHaveLength(0);
    await run.score('wire-b', [item(critical)]);
    expect(sent('night')).toHaveLength(1);
    expect(text(sent('night')[0])).toContain('rare earth magnet imports');

    const { alerts } = await run.worker.context.stores.alerts.list({ watchlistId: 'nightly', level: 'high', limit: 5 });
    const job = await run.worker.context.queues.notify.getJob(jobId('notify', deliveryKey(alerts[0].id, 1, 'night')));
    expect(await job!.getState()).toBe('delayed');
    expect(job!.opts.delay).toBe(Date.parse('2025-07-02T05:00:00Z') - clock.now); // until 07:00 in Berlin
    const [dispatch] = await run.worker.context.stores.dispatch.list(alerts[0].id);
    expect(dispatch).toMatchObject({ mode: 'deferred', why: 'quiet-hours', sendAt: Date.parse('2025-07-02T05:00:00Z') });

    // When it is due, it goes out (promoted here instead of waiting until morning).
    clock.now = Date.parse('2025-07-02T05:00:00Z');
    await job!.promote();
    await settle(run.worker);
    expect(sent('night')).toHaveLength(2);
  });
});

describe('recovery and superseded notifications', () => {
  it('still sends the notification when a score job died after folding the item and before enqueueing', async () => {
    clock.now = Date.parse('2025-07-10T10:00:00Z');
    const f = plain('Cobalt refinery explosion in Kolwezi');
    run.scorer.set(f.title, { watchlistId: 'magnets', level: 'high', entities: ['cobalt'] });
    const it1 = item(f);
    const { stores, runtime } = run.worker.context;
    // The first run: folded into an alert and dispatched, then "killed" before its notify job was added.
    const outcome = await scoreStage([it1], { state: runtime.state, alerts: stores.alerts, stories: stores.stories, risk: stores.risk, now: new Date(clock.now) });
    await dispatchDue(outcome.due, { watchlists: runtime.state.watchlists, channels: runtime.state.channels, dispatch: stores.dispatch, now: new Date(clock.now) });
    const before = sent('ops').length;
    // BullMQ runs the job again.
    await run.score('wire-a', [it1]);
    expect(sent('ops')).toHaveLength(before + 1);
    expect(text(sent('ops').at(-1)!)).toContain('Kolwezi');
    await run.score('wire-a', [it1]);
    expect(sent('ops')).toHaveLength(before + 1);
  });

  it('replaces a deferred notification by the newer version instead of sending both in the morning', async () => {
    clock.now = Date.parse('2025-07-11T21:30:00Z'); // 23:30 in Berlin
    const [first, second] = [STORY_FIXTURES[6], STORY_FIXTURES[7]]; // one magnet plant fire, two outlets
    run.scorer.set(first.title, { watchlistId: 'nightly', level: 'medium', entities: ['samarium'] });
    run.scorer.set(second.title, { watchlistId: 'nightly', level: 'high', entities: ['samarium'] });
    await run.score(first.source, [item(first)]);
    clock.now += 30 * 60_000;
    await run.score(second.source, [item(second)]);
    const [alert] = (await run.worker.context.stores.alerts.list({ watchlistId: 'nightly', since: Date.parse('2025-07-11T00:00:00Z'), limit: 5 })).alerts;
    expect(alert).toMatchObject({ version: 2, level: 'high' });
    const notify = run.worker.context.queues.notify;
    expect(await notify.getJob(jobId('notify', deliveryKey(alert.id, 1, 'night')))).toBeUndefined();
    expect(await (await notify.getJob(jobId('notify', deliveryKey(alert.id, 2, 'night'))))!.getState()).toBe('delayed');
  });
});

describe('the risk index through the pipeline', () => {
  it('raises one risk alert when several stories about one material add up, and not again while it stays high', async () => {
    clock.now = Date.parse('2025-07-20T10:00:00Z');
    const titles = ['Germanium smelter halts output in Yunnan', 'Germanium wafer maker rations supply', 'Germanium prices double on export curbs', 'Germanium recycler runs out of feedstock'];
    for (const title of titles) {
      run.scorer.set(title, { watchlistId: 'magnets', level: 'high', entities: ['germanium'] });
      await run.score('wire-b', [item(plain(title, 'wire-b'))]);
      clock.now += 60 * 60_000;
    }
    const risk = (await run.worker.context.stores.alerts.list({ watchlistId: 'magnets', since: Date.parse('2025-07-20T00:00:00Z'), limit: 20 })).alerts.filter((a) => a.kind === 'risk-index');
    expect(risk).toHaveLength(1);
    expect(risk[0]).toMatchObject({ level: 'high', entities: ['germanium'] });
    expect(sent('ops').filter((m) => text(m).includes('risk index'))).toHaveLength(1);
    const [entry] = (await run.worker.context.stores.risk.listRiskIndex(clock.now)).filter((e) => e.material === 'germanium');
    expect(entry).toMatchObject({ watchlistId: 'magnets', active: true, episode: 1 });
    expect(entry.value).toBeGreaterThan(150);
  });

  it('weighs a backlog of old stories as of their publication, so a fresh install raises no risk alert', async () => {
    clock.now = Date.parse('2025-08-20T10:00:00Z');
    const titles = ['Cobalt refinery strike halts output', 'Cobalt exporter suspends contracts', 'Cobalt hydroxide shortage hits cathode makers', 'Cobalt prices spike on Congo export quota', 'Cobalt sulphate buyers scramble for cargoes', 'Cobalt mine floods, output lost for months'];
    for (const [i, title] of titles.entries()) {
      run.scorer.set(title, { watchlistId: 'magnets', level: 'high', entities: ['cobalt'] });
      // Published 30-60 days ago, read today.
      await run.score('wire-b', [item(plain(title, 'wire-b'), new Date(clock.now - (30 + i * 10) * 86_400_000).toISOString())]);
    }
    const [entry] = (await run.worker.context.stores.risk.listRiskIndex(clock.now)).filter((e) => e.material === 'cobalt');
    expect(entry?.active ?? false).toBe(false);
    const risk = (await run.worker.context.stores.alerts.list({ watchlistId: 'magnets', since: Date.parse('2025-08-20T00:00:00Z'), limit: 20 })).alerts;
    expect(risk.filter((a) => a.kind === 'risk-index' && a.entities.includes('cobalt'))).toHaveLength(0);
  });
});
