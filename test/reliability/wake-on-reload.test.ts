import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { silentLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import { jobId } from '../../src/queue/names.js';
import { channelsFreedByReload, wakeDelayedNotifications } from '../../src/queue/wake.js';
import { makeAlert } from '../alerts/fixtures.js';
import { startTestWorker } from '../alerts/harness.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { QUIET_START, shiftedClock } from './support/quiet-clock.js';

/**
 * A reload that takes a channel's quiet hours out wakes the notifications parked past them: they go now, not when the
 * quiet hours the operator removed would have ended. A channel the reload leaves quiet keeps its parked ones waiting.
 */
const prefix = uniquePrefix('wake-reload');
const clock = shiftedClock();
let receiver: Receiver;
let run: Awaited<ReturnType<typeof startTestWorker>>;

const channel = (id: string, quiet: boolean) =>
  `  - id: ${id}\n    kind: webhook\n    url: "${receiver.urlFor(id)}"\n${quiet ? '    quietHours: { start: "22:00", end: "23:30", timezone: UTC }\n' : ''}`;

beforeAll(async () => {
  receiver = await startReceiver();
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists: []\n',
      'channels.yaml': `channels:\n${channel('freed', true)}\n${channel('still', true)}\n${channel('paced', false)}    rateLimit: { perMinute: 60 }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
    },
    {},
    [],
    clock,
  );
}, 30_000);

afterAll(async () => {
  await run?.stop();
  await receiver?.close();
  await cleanPrefix(prefix);
});

async function notify(alertId: string, channelId: string): Promise<string> {
  const { stores, queues } = run.worker.context;
  await stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId, level: 'medium' }), result: null }));
  const id = jobId('notify', deliveryKey(alertId, 1, channelId));
  await queues.notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
  return id;
}

describe('a reload that takes quiet hours out', () => {
  it('wakes the notifications parked past them, which go now, and leaves those of a channel still quiet waiting', async () => {
    const { queues, runtime } = run.worker.context;
    // Ten minutes into quiet hours that end at 23:30.
    clock.offset = QUIET_START + 600_000 - Date.now();
    const freedJob = await notify('night-1', 'freed');
    const stillJob = await notify('night-2', 'still');
    const state = async (id: string) => (await queues.notify.getJob(id))?.getState();
    await vi.waitFor(async () => expect([await state(freedJob), await state(stillJob)]).toEqual(['delayed', 'delayed']), { timeout: 10_000, interval: 50 });
    expect(receiver.requests).toEqual([]);

    // The reload: the first channel without its quiet hours.
    const previous = runtime.state;
    const channels = previous.config.channels.map((c) => (c.id === 'freed' ? { ...c, quietHours: undefined } : c));
    const next = { ...previous, config: { ...previous.config, channels }, notifiers: createNotifiers(channels), channels: new Map(channels.map((c) => [c.id, c])) };
    runtime.state = next;
    const freed = channelsFreedByReload(previous.notifiers, next.notifiers, channels);
    expect([...freed]).toEqual(['freed']);
    expect(await wakeDelayedNotifications(queues.notify, freed, silentLogger())).toBe(1);

    await vi.waitFor(() => expect(receiver.accepted('freed').total).toBe(1), { timeout: 10_000, interval: 50 });
    expect(await state(freedJob)).toBe('completed');
    expect(await state(stillJob)).toBe('delayed');
    expect(receiver.accepted('still').total).toBe(0);
    await next.notifiers.close();
  }, 30_000);
});

describe('the channels a reload frees', () => {
  it('are those that lost their quiet hours or their pace, not those that kept or changed them', () => {
    const previous = run.worker.context.runtime.state;
    const edit = (id: string, change: Record<string, unknown>) => previous.config.channels.map((c) => (c.id === id ? { ...c, ...change } : c));
    const freedBy = (channels: typeof previous.config.channels) => {
      const next = createNotifiers(channels);
      try {
        return [...channelsFreedByReload(previous.notifiers, next, channels)];
      } finally {
        void next.close();
      }
    };
    expect(freedBy(previous.config.channels)).toEqual([]);
    expect(freedBy(edit('paced', { rateLimit: false }))).toEqual(['paced']);
    expect(freedBy(edit('paced', { rateLimit: { perMinute: 120, burst: 1 } }))).toEqual([]);
    expect(freedBy(edit('still', { quietHours: { start: '23:00', end: '23:30', timezone: 'UTC' } }))).toEqual([]);
    expect(freedBy(edit('still', { quietHours: undefined }))).toEqual(['still']);
  });
});
