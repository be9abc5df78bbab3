import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import type { Level } from '../../src/scoring/types.js';
import { loadConfig } from '../../src/config/load.js';
import { DeliveryError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import type { DeliveryReceipt, RecipientStatus } from '../../src/notifiers/types.js';
import { deliverStage } from '../../src/pipeline/deliver.js';
import { digestStage } from '../../src/pipeline/digest.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { createAlertStore } from '../../src/store/alerts.js';
import { createDeliveryStore, type DeliveryStore } from '../../src/store/deliveries.js';
import { createDigestStore } from '../../src/store/digests.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { makeAlert } from '../alerts/fixtures.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * An older version's notify job that runs once a newer version exists sends the newer content, as the newer version.
 * That version must then reach the channel once: not again from the digest it is held for, not again from its own job
 * after a crash between the ledger writes, and the older entry must not stay pending.
 */
const prefix = uniquePrefix('delivery-versions-ledger');
const redis = new Redis(testRedisUrl());
let state: ConfigState;
let cleanup: () => void;
/** What the receiver got: one line per send. */
const sent: Array<{ kind: 'alert' | 'digest'; key: string; ids: string[]; versions: number[] }> = [];
/** The next sends' answers (recipients for an email-like channel); empty: accepted, no recipients. */
const answers: Array<Partial<DeliveryReceipt> | Error> = [];

beforeAll(() => {
  const dir = writeConfigDir({
    'sources.yaml': 'sources: []\n',
    'watchlists.yaml': 'watchlists: []\n',
    'channels.yaml': `channels:\n  - { id: hook, kind: webhook, url: "http://127.0.0.1:9/x", digest: { schedule: "0 8 * * *", immediateLevel: high } }\n`,
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
  });
  cleanup = dir.cleanup;
  const config = loadConfig(dir.dir, { REDIS_URL: testRedisUrl() });
  const real = createNotifiers(config.channels).get('hook')!;
  // The receiver in-process: it records what each send carried and answers as the test scripted.
  const entry = {
    ...real,
    notifier: {
      kind: 'webhook',
      render: (n: unknown) => n,
      async send(payload: any, _channel: unknown, ctx: { idempotencyKey: string }): Promise<DeliveryReceipt> {
        const answer = answers.shift();
        if (answer instanceof Error) throw answer;
        const alerts = payload.type === 'alert' ? [payload.alert] : payload.digest.alerts;
        sent.push({ kind: payload.type, key: ctx.idempotencyKey, ids: alerts.map((a: any) => a.id), versions: alerts.map((a: any) => a.version) });
        return { response: 'ok', refs: {}, ...answer };
      },
    },
  };
  const notifiers = { get: (id: string) => (id === 'hook' ? entry : undefined), close: async () => undefined };
  state = { config, notifiers, sources: new Map(), watchlists: new Map(), channels: new Map(config.channels.map((c) => [c.id, c])) } as unknown as ConfigState;
});

afterAll(async () => {
  redis.disconnect();
  cleanup?.();
  await cleanPrefix(prefix);
});

const log = memoryLogger('fatal').log;

function setup(name: string, wrap?: (d: DeliveryStore) => DeliveryStore) {
  const p = `${prefix}-${name}`;
  const ledger = createDeliveryStore(redis, p, 3600);
  const deliveries = wrap ? wrap(ledger) : ledger;
  const alerts = createAlertStore(redis, p, { days: 1, count: 1000 });
  const digests = createDigestStore(redis, p, 3600);
  const dispatch = createDispatchStore(redis, p, 3600);
  const put = async (id: string, version: number, level: Level) => {
    const alert = makeAlert({ id, version, level });
    await alerts.update(id, async () => ({ alert, result: null }));
  };
  const decide = (id: string, version: number, mode: 'immediate' | 'digest') =>
    dispatch.record(id, { channelId: 'hook', version, mode, why: mode === 'digest' ? 'below-immediate-level' : 'immediate', ...(mode === 'immediate' && { sendAt: Date.now() }), decidedAt: Date.now() });
  const deliver = (alertId: string, version: number) => deliverStage({ alertId, version, channelId: 'hook' }, { state, deliveries, log, now: () => new Date() });
  const digest = (windowEnd: number) => digestStage({ channelId: 'hook', windowEnd }, { state, alerts, deliveries, digests, log, now: () => new Date() });
  return { ledger, digests, put, decide, deliver, digest };
}

const sendsOf = (alertId: string, version: number) => sent.filter((s) => s.ids.includes(alertId) && s.versions.includes(version));
const accepted = (...addresses: string[]): Record<string, RecipientStatus> => Object.fromEntries(addresses.map((a) => [a, 'accepted']));

describe("an older version's job that sends the newer version held for the digest", () => {
  it('sends the newer version once: the digest it was held for no longer carries it', async () => {
    const { put, decide, deliver, digest, ledger } = setup('held');
    await put('a', 1, 'high');
    await decide('a', 1, 'immediate');
    // Version 1's job is delayed (its slot, a 429) while the alert de-escalates and version 2 is held for the digest.
    await put('a', 2, 'low');
    await decide('a', 2, 'digest');
    expect(await deliver('a', 1)).toMatchObject({ status: 'delivered' });
    expect((await ledger.get(deliveryKey('a', 2, 'hook')))?.status).toBe('delivered');
    await digest(Date.now() + 60_000);
    expect(sendsOf('a', 2)).toHaveLength(1);
  });

  it("sends the newer version once when its digest decision is recorded only after the older job sent it", async () => {
    const { put, decide, deliver, digest } = setup('decided-late');
    await put('b', 1, 'high');
    await decide('b', 1, 'immediate');
    // The score job stored version 2 and has not recorded its decision yet when version 1's job runs.
    await put('b', 2, 'low');
    expect(await deliver('b', 1)).toMatchObject({ status: 'delivered' });
    await decide('b', 2, 'digest');
    await digest(Date.now() + 60_000);
    expect(sendsOf('b', 2)).toHaveLength(1);
  });

  it('skips a retried older job once the digest has carried the newer version, and records why', async () => {
    const { put, decide, deliver, digest, ledger } = setup('carried');
    await put('c', 1, 'high');
    await decide('c', 1, 'immediate');
    answers.push(DeliveryError.retryable('hook', 'receiver down'));
    await expect(deliver('c', 1)).rejects.toMatchObject({ kind: 'retryable' });
    await put('c', 2, 'low');
    await decide('c', 2, 'digest');
    await digest(Date.now() + 60_000);
    expect(await deliver('c', 1)).toMatchObject({ status: 'skipped', reason: 'superseded' });
    expect(sendsOf('c', 2)).toHaveLength(1);
    const entry = await ledger.get(deliveryKey('c', 1, 'hook'));
    expect(entry?.status).toBe('skipped');
    expect(entry?.response).toMatch(/version 2/);
  });
});

describe('the ledger writes after an older job sent the newer version', () => {
  it("leaves nothing for the newer version's own job when the worker dies after the first write", async () => {
    let writes = 0;
    let dead = false;
    const { put, decide, deliver } = setup('crash', (d) => ({
      ...d,
      // The worker dies right after its first ledger write: nothing after it happens.
      recordAttempt: (...args: Parameters<DeliveryStore['recordAttempt']>) => {
        if (dead) return new Promise<never>(() => undefined);
        if (++writes === 1) dead = true;
        return d.recordAttempt(...args);
      },
    }));
    await put('d', 1, 'high');
    await decide('d', 1, 'immediate');
    await put('d', 2, 'critical');
    const crashed = deliver('d', 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    void crashed;
    dead = false;
    writes = 2;
    // The stalled job runs again, and version 2 is decided and its own job runs.
    await deliver('d', 1);
    await decide('d', 2, 'immediate');
    await deliver('d', 2);
    expect(sent.filter((s) => s.key === deliveryKey('d', 2, 'hook'))).toHaveLength(1);
  });

  it('records the newer version delivered when a first send that every recipient deferred is sent again', async () => {
    const { put, decide, deliver, ledger } = setup('all-deferred');
    await put('e', 1, 'high');
    await decide('e', 1, 'immediate');
    await put('e', 2, 'critical');
    answers.push({ recipients: { 'a@example.org': 'deferred', 'b@example.org': 'deferred' }, stillWithout: 'a@example.org, b@example.org' });
    await expect(deliver('e', 1)).rejects.toMatchObject({ kind: 'retryable' });
    answers.push({ recipients: accepted('a@example.org', 'b@example.org') });
    expect(await deliver('e', 1)).toMatchObject({ status: 'delivered' });
    // Nobody had anything before this send: the newer version reached the whole channel with it.
    expect((await ledger.get(deliveryKey('e', 2, 'hook')))?.status).toBe('delivered');
  });

  it('ends a pending older entry skipped, naming the newer version, once that version was delivered', async () => {
    const { put, decide, deliver, ledger } = setup('pending-older');
    await put('f', 1, 'high');
    await decide('f', 1, 'immediate');
    answers.push({ recipients: { 'a@example.org': 'accepted', 'b@example.org': 'deferred' }, stillWithout: 'b@example.org' });
    await expect(deliver('f', 1)).rejects.toMatchObject({ kind: 'retryable' });
    await put('f', 2, 'critical');
    await decide('f', 2, 'digest');
    await ledger.recordAttempt(deliveryKey('f', 2, 'hook'), { alertId: 'f', version: 2, channelId: 'hook' }, { status: 'delivered', response: 'HTTP 200', at: new Date() });
    expect(await deliver('f', 1)).toMatchObject({ status: 'skipped', reason: 'superseded' });
    const entry = await ledger.get(deliveryKey('f', 1, 'hook'));
    expect(entry?.status).toBe('skipped');
    expect(entry?.response).toMatch(/version 2/);
  });

  it('shows a delivery for the older version when the worker died before writing its entry', async () => {
    const { put, decide, deliver, ledger } = setup('no-older-entry');
    await put('g', 1, 'high');
    await decide('g', 1, 'immediate');
    await put('g', 2, 'critical');
    // The newer version's entry written, the worker gone before the older one's (which had none).
    await ledger.recordAttempt(deliveryKey('g', 2, 'hook'), { alertId: 'g', version: 2, channelId: 'hook' }, { status: 'delivered', response: 'HTTP 200', at: new Date() });
    expect(await deliver('g', 1)).toMatchObject({ status: 'skipped', reason: 'superseded' });
    const entry = await ledger.get(deliveryKey('g', 1, 'hook'));
    expect(entry?.status).toBe('skipped');
    expect(entry?.response).toMatch(/version 2/);
  });
});

describe('an older job that reaches an email channel in two sends', () => {
  it('records the newer version delivered once every recipient has it, so the digest does not send it again', async () => {
    const { put, decide, deliver, digest, ledger } = setup('two-sends');
    await put('h', 1, 'high');
    await decide('h', 1, 'immediate');
    await put('h', 2, 'low');
    await decide('h', 2, 'digest');
    answers.push({ recipients: { 'x@example.org': 'accepted', 'y@example.org': 'deferred' }, stillWithout: 'y@example.org' });
    await expect(deliver('h', 1)).rejects.toMatchObject({ kind: 'retryable' });
    expect((await ledger.get(deliveryKey('h', 1, 'hook')))?.sentVersion).toBe(2);
    answers.push({ recipients: accepted('x@example.org', 'y@example.org') });
    expect(await deliver('h', 1)).toMatchObject({ status: 'delivered' });
    expect((await ledger.get(deliveryKey('h', 2, 'hook')))?.status).toBe('delivered');
    await digest(Date.now() + 60_000);
    expect(sendsOf('h', 2)).toHaveLength(2);
    expect(sendsOf('h', 2).filter((s) => s.kind === 'digest')).toHaveLength(0);
  });

  it('leaves the newer version to its digest when an earlier send reached someone with the older content', async () => {
    const { put, decide, deliver, ledger } = setup('mixed-sends');
    await put('i', 1, 'high');
    await decide('i', 1, 'immediate');
    answers.push({ recipients: { 'x@example.org': 'accepted', 'y@example.org': 'deferred' }, stillWithout: 'y@example.org' });
    await expect(deliver('i', 1)).rejects.toMatchObject({ kind: 'retryable' });
    await put('i', 2, 'low');
    await decide('i', 2, 'digest');
    answers.push({ recipients: accepted('x@example.org', 'y@example.org') });
    expect(await deliver('i', 1)).toMatchObject({ status: 'delivered' });
    expect((await ledger.get(deliveryKey('i', 1, 'hook')))?.sentVersion).toBe('mixed');
    expect((await ledger.get(deliveryKey('i', 2, 'hook')))?.status).not.toBe('delivered');
  });
});
