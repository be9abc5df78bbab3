import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { safeRedisUrl } from '../../src/queue/connection.js';
import { redactSecrets, registerSecret } from '../../src/secrets.js';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';
import { startServer, type LocalServer } from '../helpers/http.js';

let receiver: LocalServer;
const secretPath = '/services/T0LOGTEST/B0LOGTEST/xoxb-log-secret-9f8e7d6c5b4a';

beforeAll(async () => {
  receiver = await startServer((_req, res) => {
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end('rollup_error');
  });
});
afterAll(() => receiver.close());

describe('secrets never reach the log', () => {
  it('scrubs a configured webhook URL from an axios error logged whole, with its request URL and headers', async () => {
    const webhookUrl = `${receiver.url}${secretPath}`;
    const { dir, cleanup } = writeConfigDir({
      ...MINIMAL,
      'channels.yaml': `channels:\n  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }\n`,
    });
    try {
      loadConfig(dir, { SLACK_WEBHOOK_URL: webhookUrl, SMTP_PASSWORD: 'unused' });
    } finally {
      cleanup();
    }
    const { log, lines } = memoryLogger();
    const error = await axios.post(webhookUrl, { text: 'x' }, { headers: { Authorization: 'Bearer abc123abc123' } }).catch((e: unknown) => e);
    // The worst case: a careless call site logs the library error and the raw objects around it.
    log.error({ err: error }, 'slack post failed');
    log.error({ error, config: (error as { config: unknown }).config }, `posting to ${webhookUrl} failed`);
    log.warn({ channel: { webhookUrl } }, 'channel');
    log.info(`message text with ${encodeURIComponent(webhookUrl)} inside`);
    await new Promise((resolve) => setTimeout(resolve, 20));

    const output = lines().join('\n');
    expect(lines().length).toBe(4);
    expect(output).not.toContain(secretPath);
    expect(output).not.toContain('xoxb-log-secret-9f8e7d6c5b4a');
    expect(output).not.toContain('abc123abc123');
    expect(output).toContain('[redacted]');
    // The error stays useful: status and message survive.
    expect(output).toContain('Request failed with status code 500');
  });

  it('scrubs a password inside a Redis or SMTP URL taken from the environment', () => {
    const { dir, cleanup } = writeConfigDir({
      ...MINIMAL,
      'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "https://hooks.slack.com/services/T1/B1/literal-secret-value" }
  - { id: buyers, kind: email, smtpUrl: "\${SMTP_URL}", from: a@example.org, to: b@example.org }
`,
    });
    try {
      loadConfig(dir, { SMTP_URL: 'smtp://mailer:hunter2-pass@mail.example.org:587' });
    } finally {
      cleanup();
    }
    expect(redactSecrets('auth failed for hunter2-pass')).toBe('auth failed for [redacted]');
    expect(redactSecrets('POST https://hooks.slack.com/services/T1/B1/literal-secret-value')).not.toContain('literal-secret-value');
  });

  it('scrubs a secret holding a quote or a backslash, which a JSON log line carries escaped', async () => {
    const password = 'Zk"9\\qP!x7';
    registerSecret(password);
    const { log, lines } = memoryLogger();
    log.error({ detail: { tried: password } }, `login refused for ${password}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const output = lines().join('\n');
    expect(output).not.toContain(JSON.stringify(password).slice(1, -1));
    expect(output).not.toContain('Zk\\"9');
    expect(output).not.toContain('qP!x7');
    expect(JSON.parse(lines()[0])).toMatchObject({ msg: 'login refused for [redacted]', detail: { tried: '[redacted]' } });
  });

  it('hides a Redis password given in the URL query, which ioredis accepts', () => {
    const shown = safeRedisUrl('redis://redis.internal:6379/0?password=QueryPass-9876&db=0');
    expect(shown).not.toContain('QueryPass-9876');
    expect(shown).toContain('redis.internal:6379');
  });

  it("masks each password of a Redis Cluster's seed list", () => {
    const shown = safeRedisUrl('redis://:First-Seed-Pass@10.0.0.1:7000, rediss://ops:Second-Seed-Pass@10.0.0.2:7000');
    expect(shown).not.toMatch(/Seed-Pass/);
    expect(shown).toBe('redis://:***@10.0.0.1:7000,rediss://***:***@10.0.0.2:7000');
  });

  it('registers the Redis password of $REDIS_URL from its query, and percent-encoded ones in their decoded form', () => {
    const load = (redisUrl: string) => {
      const { dir, cleanup } = writeConfigDir(MINIMAL);
      try {
        loadConfig(dir, { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T2/B2/unused-here', REDIS_URL: redisUrl });
      } finally {
        cleanup();
      }
    };
    load('redis://redis.internal:6379/0?password=QueryPass-1234');
    expect(redactSecrets('AUTH QueryPass-1234 failed')).toBe('AUTH [redacted] failed');
    load('redis://default:p%40ss%2Fw0rd-99@redis.internal:6379');
    expect(redactSecrets('WRONGPASS p@ss/w0rd-99')).toBe('WRONGPASS [redacted]');
  });
});
