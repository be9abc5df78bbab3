import { Redis } from 'ioredis';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, expect } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import { digestStage } from '../../src/pipeline/digest.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { createAlertStore } from '../../src/store/alerts.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { createDigestStore, type DigestStore } from '../../src/store/digests.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl } from '../helpers/redis.js';
import { startSmtp } from '../notifiers/smtp.js';
import { makeAlert } from './fixtures.js';

/**
 * An email channel `mail` with a digest, to OK and GREY, on real Redis and a real SMTP server: what the digest tests
 * share. Each test file gets its own (vitest runs each file in its own module graph).
 */
export const OK = 'ok@example.com';
export const GREY = 'grey@example.com';

/**
 * What the SMTP server does now: GREY answers 450 at RCPT TO (greylisting); every message fails at DATA with `failing`;
 * `onData` is called when it has taken a message's data (the send is out).
 */
export const server: { greylisting: boolean; failing: number | undefined; onData?: () => void } = { greylisting: false, failing: undefined };

export let redis: Redis;
export let smtp: Awaited<ReturnType<typeof startSmtp>>;
export let state: ConfigState;

/** Starts the channel before the file's tests and removes everything after; `digest` is the channel's digest YAML. */
export function useEmailDigestChannel(prefix: string, digest: string): void {
  let cleanupConfig: () => void;
  beforeAll(async () => {
    redis = new Redis(testRedisUrl());
    smtp = await startSmtp({
      rcpt: (address) => (address === GREY && server.greylisting ? 450 : undefined),
      data: () => {
        server.onData?.();
        return server.failing;
      },
    });
    const { dir, cleanup } = writeConfigDir({
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists: []\n',
      'channels.yaml': `channels:
  - { id: mail, kind: email, smtpUrl: "${smtp.smtpUrl}", from: "Chokepoint <alerts@example.com>", to: [${OK}, ${GREY}], digest: ${digest} }
`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
    });
    cleanupConfig = cleanup;
    const config = loadConfig(dir, { REDIS_URL: testRedisUrl() });
    state = {
      config,
      scorer: undefined as never,
      notifiers: createNotifiers(config.channels),
      http: undefined as never,
      sources: new Map(),
      watchlists: new Map(),
      channels: new Map(config.channels.map((c) => [c.id, c])),
    };
  });

  afterAll(async () => {
    await state?.notifiers.close();
    await smtp?.close();
    redis?.disconnect();
    cleanupConfig?.();
    await cleanPrefix(prefix);
  });
}

/** The messages of one window's digest that reached each address. */
export function mailsOf(windowEnd: number): Record<string, ParsedMail[]> {
  const out: Record<string, ParsedMail[]> = { [OK]: [], [GREY]: [] };
  smtp.received.forEach((mail, i) => {
    if (mail.headers.get('x-chokepoint-delivery') !== digestKey('mail', windowEnd)) return;
    for (const address of smtp.envelopes[i]!) out[address]?.push(mail);
  });
  return out;
}

/** As in production: the ledger and what a window carried are kept for retention.alertDays (90 by default). */
const PRODUCTION_RETENTION = { retentionSeconds: 90 * 86_400, alertDays: 90 };

/** The window's digest reached OK and GREY once each, as one message (one Message-ID); returns their mails. */
export function expectOneMessageForBoth(windowEnd: number): Record<string, ParsedMail[]> {
  const mails = mailsOf(windowEnd);
  expect(mails[OK]).toHaveLength(1);
  expect(mails[GREY]).toHaveLength(1);
  expect(mails[GREY]![0]!.messageId).toBe(mails[OK]![0]!.messageId);
  return mails;
}

/**
 * The stores of one test (a prefix of its own), the digest stage over them, and ways to hold an alert version for the
 * channel's digest or send a newer one on its own. `retentionSeconds` keeps the ledger and what windows carried
 * (production's retention unless given).
 */
export function windowStores(prefix: string, options: { retentionSeconds?: number; alertDays?: number; logLevel?: 'info' | 'fatal' } = {}) {
  const { retentionSeconds, alertDays } = { ...PRODUCTION_RETENTION, ...options };
  const stores = {
    alerts: createAlertStore(redis, prefix, { days: alertDays, count: 1000 }),
    deliveries: createDeliveryStore(redis, prefix, retentionSeconds),
    digests: createDigestStore(redis, prefix, retentionSeconds),
  };
  const dispatch = createDispatchStore(redis, prefix, retentionSeconds);
  const logger = memoryLogger(options.logLevel ?? 'info');
  const hold = async (id: string, at: number, overrides: Parameters<typeof makeAlert>[0] = { id }) => {
    const alert = makeAlert({ ...overrides, id });
    await stores.alerts.update(id, async () => ({ alert, result: null }));
    await dispatch.record(id, { channelId: 'mail', version: alert.version, mode: 'digest', why: 'below-immediate-level', decidedAt: at });
  };
  /** A newer version of the alert, sent on its own: it leaves the digest holding. */
  const sendAlone = async (id: string, at: number) => {
    const alert = makeAlert({ id, version: 2, title: `${id} escalated`, level: 'high', score: 95 });
    await stores.alerts.update(id, async () => ({ alert, result: null }));
    await dispatch.record(id, { channelId: 'mail', version: 2, mode: 'immediate', why: 'level' as never, sendAt: at, decidedAt: at });
  };
  const stage = (windowEnd: number, digests: DigestStore = stores.digests) =>
    digestStage({ channelId: 'mail', windowEnd }, { state, ...stores, digests, log: logger.log, now: () => new Date() });
  const keys = (windowEnd: number) => ({ plan: `{${prefix}}:digest-plan:mail:${windowEnd}`, shown: `{${prefix}}:digest-shown:mail:${windowEnd}` });
  return { stores, hold, sendAlone, stage, keys, lines: logger.lines };
}
