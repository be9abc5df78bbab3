import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebhookChannelConfig } from '../../src/config/schema.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import type { Alert } from '../../src/alerts/types.js';
import {
  createWebhookNotifier,
  renderWebhook,
  serializeWebhookBody,
  signWebhook,
  verifyWebhookSignature,
  WEBHOOK_DIGEST_MAX_BYTES,
} from '../../src/notifiers/webhook.js';
import { caught, sendContext, startReceiver } from './receiver.js';

const SECRET = 'whsec_test_0123456789abcdef';
const SENT_AT = new Date('2024-12-03T05:00:00.000Z');
const notifier = createWebhookNotifier(() => SENT_AT);

let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function channel(url: string, overrides: Partial<WebhookChannelConfig> = {}): WebhookChannelConfig {
  return { id: 'erp-hook', kind: 'webhook', optional: false, url: `${url}/hooks/chokepoint`, secret: SECRET, ...overrides };
}

async function deliverOnce(ch: WebhookChannelConfig, idempotencyKey = 'alert-1-v1-erp-hook') {
  return notifier.send(notifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext({ idempotencyKey }));
}

describe('signed webhooks', () => {
  it('posts the versioned body with timestamp, signature, idempotency key and user agent', async () => {
    receiver = await startReceiver(() => ({ status: 204 }));
    const receipt = await deliverOnce(channel(receiver.url));
    expect(receipt.response).toBe('HTTP 204');
    const [request] = receiver.requests;
    const body = JSON.parse(request.body);
    expect(Object.keys(body)).toEqual(['version', 'type', 'id', 'sentAt', 'alert']);
    expect(body).toMatchObject({ version: 1, type: 'alert', id: 'alert-sample-semis-gallium-export-ban-v1', sentAt: SENT_AT.toISOString() });
    expect(body.alert).toMatchObject({ level: 'critical', sourceCount: 3, watchlist: { id: 'semiconductor-inputs', name: 'Semiconductor inputs' } });
    expect(request.headers['x-chokepoint-timestamp']).toBe(String(SENT_AT.getTime() / 1000));
    expect(request.headers['x-chokepoint-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(request.headers['idempotency-key']).toBe('alert-1-v1-erp-hook');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^chokepoint-notifier\//);
  });

  it('signs so that the reference verifier accepts the exact body and rejects a tampered one', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    await deliverOnce(channel(receiver.url));
    const [request] = receiver.requests;
    const timestamp = request.headers['x-chokepoint-timestamp'] as string;
    const signature = request.headers['x-chokepoint-signature'] as string;
    const now = SENT_AT;
    expect(verifyWebhookSignature(SECRET, timestamp, request.body, signature, { now })).toBe(true);
    expect(verifyWebhookSignature(SECRET, timestamp, Buffer.from(request.body), signature, { now })).toBe(true);
    const tampered = request.body.replace('"critical"', '"low"');
    expect(tampered).not.toBe(request.body);
    expect(verifyWebhookSignature(SECRET, timestamp, tampered, signature, { now })).toBe(false);
    expect(verifyWebhookSignature('another-secret', timestamp, request.body, signature, { now })).toBe(false);
    expect(verifyWebhookSignature(SECRET, String(Number(timestamp) + 1), request.body, signature, { now })).toBe(false);
  });

  it('rejects a replay older than the tolerance, and malformed headers', () => {
    const body = '{"version":1}';
    const ts = 1_733_202_000;
    const sig = signWebhook(SECRET, ts, body);
    const at = (seconds: number) => new Date(seconds * 1000);
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { now: at(ts + 299) })).toBe(true);
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { now: at(ts + 301) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { now: at(ts + 3000), toleranceSeconds: 3600 })).toBe(true);
    expect(verifyWebhookSignature(SECRET, ts, body, sig.replace('sha256=', 'sha1='), { now: at(ts) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, 'sha256=abc', { now: at(ts) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, 'soon', body, sig, { now: at(ts) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, undefined, { now: at(ts) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, ts, body, `sha256=${'0'.repeat(64)}, ${sig}`, { now: at(ts) })).toBe(true);
  });

  it('is accepted by the verifier printed in docs/webhooks.md, which rejects a tampered body', async () => {
    const doc = readFileSync(new URL('../../docs/webhooks.md', import.meta.url), 'utf8');
    const source = /(function verify\([\s\S]*?\n\})\n/.exec(doc)?.[1];
    expect(source).toBeDefined();
    const { createHmac: hmac, timingSafeEqual } = await import('node:crypto');
    const verify = new Function('createHmac', 'timingSafeEqual', 'TOLERANCE_SECONDS', `${source}; return verify;`)(hmac, timingSafeEqual, 300);
    receiver = await startReceiver(() => ({ status: 200 }));
    await createWebhookNotifier().send(renderWebhook({ type: 'alert', alert: sampleAlert() }), channel(receiver.url), sendContext());
    const [request] = receiver.requests;
    const args = [request.headers['x-chokepoint-timestamp'], Buffer.from(request.body), request.headers['x-chokepoint-signature']];
    expect(verify(SECRET, ...args)).toBe(true);
    expect(verify(SECRET, args[0], Buffer.from(request.body.replace('critical', 'low')), args[2])).toBe(false);
  });

  it('matches a signature computed independently with HMAC-SHA256 over "timestamp.body"', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', SECRET).update('1733202000.{"a":1}').digest('hex');
    expect(signWebhook(SECRET, 1733202000, '{"a":1}')).toBe(`sha256=${expected}`);
  });

  it('sends the same idempotency key on every retry of a delivery', async () => {
    receiver = await startReceiver((i) => (i === 0 ? { status: 500, body: 'down' } : { status: 200 }));
    const ch = channel(receiver.url);
    expect(await caught(() => deliverOnce(ch, 'alert-9-v2-erp-hook'))).toMatchObject({ kind: 'retryable' });
    await deliverOnce(ch, 'alert-9-v2-erp-hook');
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual(['alert-9-v2-erp-hook', 'alert-9-v2-erp-hook']);
  });

  it('keeps custom headers but never lets them replace the signature or idempotency key', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    await deliverOnce(channel(receiver.url, { headers: { Authorization: 'Bearer erp-token-123456', 'x-chokepoint-signature': 'forged', 'Idempotency-Key': 'x' } }));
    const [request] = receiver.requests;
    expect(request.headers.authorization).toBe('Bearer erp-token-123456');
    expect(request.headers['x-chokepoint-signature']).toMatch(/^sha256=/);
    expect(request.headers['idempotency-key']).toBe('alert-1-v1-erp-hook');
  });

  it('sends unsigned when the channel has no secret', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    await deliverOnce(channel(receiver.url, { secret: undefined }));
    expect(receiver.requests[0].headers['x-chokepoint-signature']).toBeUndefined();
    expect(receiver.requests[0].headers['x-chokepoint-timestamp']).toBeDefined();
  });

  it('gives up at once, naming the headers but not their values, when a header cannot be sent (a config the schema did not check)', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    for (const headers of [{ 'X-Api-Key': 'tok-Hunter2\r\nX-Injected: 1' }, { 'X Api Key': 'tok-Hunter2' }] as Array<Record<string, string>>) {
      const err = await caught(() => deliverOnce(channel(receiver!.url, { headers })));
      expect(err).toMatchObject({ kind: 'permanent', message: expect.stringContaining("invalid name or value (ERR_INVALID_") });
      expect(String((err as Error).message)).toContain("check the channel's headers");
      expect(JSON.stringify(err)).not.toContain('Hunter2');
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('classifies 429, 500, 410 and a slow receiver', async () => {
    receiver = await startReceiver((i) => [
      { status: 429, headers: { 'retry-after': '12' } },
      { status: 503 },
      { status: 410, body: '{"error":"gone"}' },
      { status: 200, delayMs: 1000 },
    ][i]);
    const ch = channel(receiver.url);
    const send = () => notifier.send(notifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext({}, 200));
    expect(await caught(send)).toMatchObject({ kind: 'rate-limited', delayMs: 12_000 });
    expect(await caught(send)).toMatchObject({ kind: 'retryable' });
    expect(await caught(send)).toMatchObject({ kind: 'permanent', message: expect.stringContaining('HTTP 410: {"error":"gone"}') });
    expect(await caught(send)).toMatchObject({ kind: 'retryable' });
    expect(receiver.requests).toHaveLength(4);
  });

  it('renders a digest body with every alert', () => {
    const base = sampleAlert();
    const payload = renderWebhook({
      type: 'digest',
      digest: { channelId: 'erp-hook', windowStart: '2024-12-02T08:00:00.000Z', windowEnd: '2024-12-03T08:00:00.000Z', alerts: [base, { ...base, id: 'b' }] },
    });
    expect(payload).toMatchObject({ type: 'digest', id: 'digest-erp-hook-2024-12-03T08:00:00.000Z', digest: { count: 2 } });
  });

  describe('bounds a digest body to 512 KiB', () => {
    const base = sampleAlert();
    const digestOf = (alerts: Alert[]) => ({ channelId: 'erp-hook', windowStart: '2024-12-02T08:00:00.000Z', windowEnd: '2024-12-03T08:00:00.000Z', alerts });
    const items = (n: number) =>
      Array.from({ length: n }, (_, j) => ({
        ...base.items[0],
        itemId: `i${j}`,
        title: `China tightens export licensing for rare earth magnets and processing equipment, ministry says ${j}`,
        url: `https://www.example-news-outlet.com/world/asia-pacific/china-tightens-export-licensing-rare-earth-magnets-${j}-2025-10-09/`,
      }));
    const bytesOf = (payload: ReturnType<typeof renderWebhook>) => Buffer.byteLength(serializeWebhookBody(payload, SENT_AT), 'utf8');

    it('shortens item lists first and keeps every alert with its full item count (100 alerts x 50 items was 1.7 MB)', () => {
      const alerts = Array.from({ length: 100 }, (_, i) => ({ ...base, id: `a${i}`, title: `Alert ${i}`, itemCount: 60, items: items(50) }));
      const payload = renderWebhook({ type: 'digest', digest: digestOf(alerts) });
      expect(WEBHOOK_DIGEST_MAX_BYTES).toBe(512 * 1024);
      expect(bytesOf(payload)).toBeLessThanOrEqual(WEBHOOK_DIGEST_MAX_BYTES);
      if (payload.type !== 'digest') throw new Error('expected a digest');
      expect(payload.digest).toMatchObject({ count: 100, omitted: 0 });
      expect(payload.digest.alerts).toHaveLength(100);
      const kept = payload.digest.alerts[0].items.length;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(50);
      for (const alert of payload.digest.alerts) expect(alert).toMatchObject({ itemCount: 60, items: { length: kept } });
    });

    it('then leaves out the least severe alerts, counted in omitted, so the body always fits', () => {
      const levels = ['critical', 'high', 'medium', 'low', 'info'] as const;
      const alerts = Array.from({ length: 500 }, (_, i) => ({ ...base, id: `a${i}`, level: levels[i % 5], why: `${i} `.padEnd(3000, 'w'), items: items(50) }));
      const payload = renderWebhook({ type: 'digest', digest: { ...digestOf(alerts), omitted: 4 } });
      expect(bytesOf(payload)).toBeLessThanOrEqual(WEBHOOK_DIGEST_MAX_BYTES);
      if (payload.type !== 'digest') throw new Error('expected a digest');
      const { digest } = payload;
      expect(digest.count).toBe(504);
      expect(digest.alerts.length).toBeGreaterThan(0);
      expect(digest.alerts.length + digest.omitted).toBe(504);
      // Every critical alert is kept before any high one, and nothing below high fits here.
      expect(digest.alerts.filter((a) => a.level === 'critical')).toHaveLength(100);
      expect(digest.alerts.every((a) => a.level === 'critical' || a.level === 'high')).toBe(true);
      expect(digest.alerts.every((a) => a.items.length === 0 && a.itemCount === 50)).toBe(true);
    });

    it('leaves a digest that fits as it is', () => {
      const alerts = [base, { ...base, id: 'b' }];
      const payload = renderWebhook({ type: 'digest', digest: digestOf(alerts) });
      expect(payload.type === 'digest' && payload.digest.alerts.map((a) => a.items.length)).toEqual([3, 3]);
    });
  });
});
