import { PassThrough, Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAP_TITLES } from '../../src/demo/content.js';
import { type DemoResult, runDemo } from '../../src/demo/run.js';
import { memoryLogger } from '../../src/log.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('demo');

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: '', err: '' };
  stdout.on('data', (d) => (text.out += d));
  stderr.on('data', (d) => (text.err += d));
  return { io: { stdout, stderr, stdin: Readable.from(['']), env: {} }, text };
}

let result: DemoResult;
let printed: { out: string; err: string };

beforeAll(async () => {
  const { io, text } = capture();
  const env = { REDIS_URL: testRedisUrl() };
  result = await runDemo({ io: { ...io, env }, env, once: true, prefix, log: memoryLogger('warn').log, color: false });
  printed = text;
}, 40_000);

afterAll(() => cleanPrefix(prefix));

const slackText = () => result.slack.map((m) => JSON.stringify(m.payload));
const emailSubjects = () => result.emails.map((m) => m.subject);

describe('chokepoint demo --once', () => {
  it('exits 0 after one cycle and prints a summary of alerts and messages received', () => {
    expect(printed.err).toBe('');
    expect(result.code).toBe(0);
    expect(printed.out).toMatch(/^alerts {5}\d+: .*critical.*high.*medium/m);
    expect(printed.out).toMatch(/^received {3}Slack \d+ messages?, email \d+ messages?, webhook \d+ deliver/m);
  });

  it('shows each Slack message in the terminal with its header, fields and links', () => {
    expect(printed.out).toContain('┌ Slack #procurement');
    expect(printed.out).toMatch(/│ \S+ (HIGH|CRITICAL): China bans gallium and germanium exports to the United States/);
    expect(printed.out).toMatch(/│ Watchlist +Level/);
    expect(printed.out).toContain('(https://asia-trade-journal.example/');
  });

  it('sends the export ban, the magnet licence, the AI accelerator rule and the new Entity List entry to Slack', () => {
    const slack = slackText().join('\n');
    expect(slack).toContain('China bans gallium and germanium exports to the United States');
    expect(slack).toContain('licence requirement for rare earth magnet exports');
    expect(slack).toMatch(/AI Accelerators and High-Bandwidth Memory/);
    expect(slack).toContain('Entity List: Qianhai Lumen Semiconductor Co., Ltd. (CN)');
    expect(slack).toContain('DUV lithography tools');
  });

  it('emails only what needs action (high and critical), threaded on the same list', () => {
    const subjects = emailSubjects();
    expect(subjects.some((s) => /^\[(HIGH|CRITICAL)\] China bans gallium and germanium/.test(s))).toBe(true);
    expect(subjects.some((s) => /^\[(HIGH|CRITICAL)\] Entity List: Qianhai Lumen Semiconductor/.test(s))).toBe(true);
    expect(subjects.every((s) => /^\[(HIGH|CRITICAL)\]/.test(s))).toBe(true);
    expect(result.emails.every((m) => m.to === 'buyers@demo.example')).toBe(true);
    expect(printed.out).toMatch(/✉ email to buyers@demo\.example: \[(HIGH|CRITICAL)\] China bans gallium/);
  });

  it('posts every relevant alert to the signed webhook, including the de-escalation at info level', () => {
    expect(result.webhooks.length).toBeGreaterThan(0);
    expect(result.webhooks.every((d) => d.signatureValid)).toBe(true);
    const lifted = result.webhooks.flatMap((d) => ('alert' in d.body ? [d.body.alert] : [])).find((a) => a.title.startsWith('Beijing lifts antimony export curbs'));
    expect(lifted).toMatchObject({ level: 'info', direction: 'de-escalation' });
  });

  it('raises alerts at several levels and none for potato chips, poker chips or Earth Day', () => {
    const levels = [...new Set(result.alerts.map((a) => a.level))];
    for (const level of ['critical', 'high', 'medium', 'info']) expect(levels).toContain(level);
    const everything = [...slackText(), ...result.emails.map((m) => `${m.subject}\n${m.text}`), ...result.webhooks.map((d) => JSON.stringify(d.body)), ...result.alerts.map((a) => JSON.stringify(a))].join('\n');
    for (const trap of TRAP_TITLES) expect(everything).not.toContain(trap);
    expect(everything).not.toMatch(/potato|poker|earth day/i);
  });

  it('deletes its Redis keys when it is done', async () => {
    const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
    try {
      const [, keys] = await redis.scan('0', 'MATCH', `{${prefix}}:*`, 'COUNT', 10_000);
      expect(keys).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(printed.out).toMatch(new RegExp(`deleted \\d+ Redis keys under "${prefix}"`));
  });
});

describe('chokepoint demo without Redis', () => {
  it('says how to start Redis and exits 69', async () => {
    const { io, text } = capture();
    const env = { REDIS_URL: 'redis://127.0.0.1:1' };
    const outcome = await runDemo({ io: { ...io, env }, env, once: true, prefix: uniquePrefix('demo-noredis'), color: false });
    expect(outcome.code).toBe(69);
    expect(text.err).toMatch(/^chokepoint demo: Redis is not reachable at redis:\/\/127\.0\.0\.1:1\/? .*docker run -d -p 6379:6379 redis/);
    expect(text.err.trim().split('\n')).toHaveLength(1);
  });
});
