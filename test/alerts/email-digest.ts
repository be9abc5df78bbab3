import { Redis } from 'ioredis';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { loadConfig } from '../../src/config/load.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl } from '../helpers/redis.js';
import { startSmtp } from '../notifiers/smtp.js';

/**
 * An email channel `mail` with a digest, to OK and GREY, on real Redis and a real SMTP server: what the digest tests
 * share. Each test file gets its own (vitest runs each file in its own module graph).
 */
export const OK = 'ok@example.com';
export const GREY = 'grey@example.com';

/** What the SMTP server does now: GREY answers 450 at RCPT TO (greylisting); every message fails at DATA with `failing`. */
export const server: { greylisting: boolean; failing: number | undefined } = { greylisting: false, failing: undefined };

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
      data: () => server.failing,
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
