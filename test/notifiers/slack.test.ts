import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/types.js';
import type { SlackChannelConfig } from '../../src/config/schema.js';
import { DeliveryError } from '../../src/errors.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { renderSlackAlert, renderSlackDigest, SLACK_LIMITS, slackNotifier } from '../../src/notifiers/slack.js';
import { caught, sendContext, startReceiver } from './receiver.js';

const SECRET_PATH = '/services/T0000TEST/B0000TEST/SlackSecretToken1234567890';

function channel(base: string): SlackChannelConfig {
  return { id: 'ops-slack', kind: 'slack', optional: false, webhookUrl: base + SECRET_PATH };
}

let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function sendWith(answers: Parameters<typeof startReceiver>[0], timeoutMs = 2000) {
  receiver = await startReceiver(answers);
  const ch = channel(receiver.url);
  return slackNotifier.send(slackNotifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext({}, timeoutMs));
}

describe('Slack rendering', () => {
  it('leads with the level marker and title, then the why-sentence, entities, source count, links and time', () => {
    const payload = renderSlackAlert(sampleAlert());
    expect(payload.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '🔴 CRITICAL: China bans exports of gallium, germanium and antimony to the United States', emoji: true },
    });
    const json = JSON.stringify(payload.blocks);
    expect(json).toContain('refines about 98%');
    expect(json).toContain('gallium, germanium, antimony, China');
    expect(json).toContain('reported by 3 sources');
    expect(json).toContain('<https://www.example.com/news/china-bans-gallium-germanium-exports|Open the story>');
    expect(json).toContain('first seen 2024-12-03 02:14 UTC');
    expect(payload.text).toMatch(/^🔴 CRITICAL: China bans exports/);
  });

  it('escapes &, < and > in feed text so a title cannot mention @channel or forge a link', () => {
    const alert: Alert = { ...sampleAlert(), why: 'Ban <!channel> & <https://evil.example|click here>' };
    const payload = renderSlackAlert(alert);
    const section = payload.blocks.find((b) => b.type === 'section' && 'text' in b && b.text);
    expect(section).toMatchObject({ text: { text: 'Ban &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;' } });
    expect(payload.text).not.toContain('<!channel>');
  });

  it('links only http(s) URLs, never javascript: from a feed', () => {
    const alert: Alert = { ...sampleAlert(), url: 'javascript:alert(1)' };
    expect(JSON.stringify(renderSlackAlert(alert))).not.toContain('javascript:');
  });

  it('says what changed in a follow-up', () => {
    const escalated = renderSlackAlert({ ...sampleAlert(), version: 2, reason: 'escalated', level: 'high', score: 78 });
    expect(JSON.stringify(escalated.blocks)).toContain('Update 2: escalated to HIGH (score 78).');
    expect(escalated.text).toContain('(escalated)');
    const corroborated = renderSlackAlert({ ...sampleAlert(), version: 3, reason: 'corroborated' });
    expect(JSON.stringify(corroborated.blocks)).toContain('corroborated, now reported by 3 sources');
    const easing = renderSlackAlert({ ...sampleAlert(), version: 4, reason: 'direction-changed', direction: 'de-escalation' });
    expect(JSON.stringify(easing.blocks)).toContain('the situation is easing');
  });

  it('cuts a 400-character title to the 150-character header limit', () => {
    const payload = renderSlackAlert({ ...sampleAlert(), title: 'Gallium '.repeat(50) });
    const header = payload.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    expect(header.text.text.endsWith('…')).toBe(true);
  });

  it('counts the coverage items a long Slack section leaves out, even when fewer than five fit', () => {
    const base = sampleAlert();
    const url = `https://news.google.com/rss/articles/${'CBMi'.repeat(60)}`;
    const title = 'China tightens export controls on rare earth processing technology and magnet production equipment, '.repeat(3).slice(0, 280);
    const items = Array.from({ length: 20 }, (_, i) => ({ ...base.items[0], itemId: `i${i}`, url: `${url}${i}`, title }));
    const payload = renderSlackAlert({ ...base, items, itemCount: 20 });
    const section = payload.blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('• '));
    const lines = (section as { text: { text: string } }).text.text.split('\n');
    const shown = lines.filter((line) => line.startsWith('• ')).length;
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThan(5);
    expect(lines.at(-1)).toBe(`… and ${20 - shown} more`);
    expect(lines.join('\n').length).toBeLessThanOrEqual(2000);
  });

  it('groups a digest by watchlist, most severe first, with links', () => {
    const base = sampleAlert();
    const digest = {
      channelId: 'ops-slack',
      windowStart: '2024-12-02T08:00:00.000Z',
      windowEnd: '2024-12-03T08:00:00.000Z',
      alerts: [
        { ...base, id: 'a1', watchlistId: 'magnets', watchlistName: 'Magnets', level: 'low' as const, score: 30, title: 'Low magnet item' },
        { ...base, id: 'a2', watchlistId: 'semis', watchlistName: 'Semis', level: 'medium' as const, score: 50, title: 'Medium semis item' },
        { ...base, id: 'a3', watchlistId: 'magnets', watchlistName: 'Magnets', level: 'high' as const, score: 70, title: 'High magnet item' },
      ],
    };
    const text = renderSlackDigest(digest).blocks.map((b) => ('text' in b && b.text ? b.text.text : '')).join('\n');
    expect(text.indexOf('*Magnets*')).toBeLessThan(text.indexOf('*Semis*'));
    expect(text.indexOf('High magnet item')).toBeLessThan(text.indexOf('Low magnet item'));
    expect(text).toContain('<https://www.example.com/news/china-bans-gallium-germanium-exports|High magnet item>');
  });
});

describe('Slack delivery', () => {
  it('posts one JSON request per send and reports the answer', async () => {
    const receipt = await sendWith(() => ({ status: 200, body: 'ok' }));
    expect(receipt.response).toBe('HTTP 200 ok');
    expect(receiver!.requests).toHaveLength(1);
    const [request] = receiver!.requests;
    expect(request.path).toBe(SECRET_PATH);
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body).blocks[0].type).toBe('header');
  });

  it('reports a short answer without the webhook secret it may echo, never cutting an emoji in half', async () => {
    const echoed = await sendWith((_i, request) => ({ status: 200, body: `ok ${request.path}` }));
    expect(echoed.response).not.toContain('SlackSecretToken1234567890');
    expect(echoed.response).toMatch(/^HTTP 200 ok \[redacted\]/);
    await receiver!.close();
    // A plain 40-unit cut would keep the emoji's first half: a lone surrogate, which the ledger stores as garbage.
    const emoji = await sendWith(() => ({ status: 200, body: `${'x'.repeat(39)}😀 and more` }));
    expect(emoji.response).toBe(`HTTP 200 ${'x'.repeat(39)}…`);
    expect(emoji.response).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('is rate-limited for the Retry-After seconds on 429', async () => {
    const err = await caught(() => sendWith(() => ({ status: 429, body: 'rate_limited', headers: { 'retry-after': '7' } })));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ kind: 'rate-limited', delayMs: 7000, channelId: 'ops-slack' });
    expect(receiver!.requests).toHaveLength(1);
  });

  it('reads a Retry-After HTTP-date and waits 30 s when the header is absent', async () => {
    const at = new Date(Date.now() + 120_000).toUTCString();
    const dated = await caught(() => sendWith(() => ({ status: 429, headers: { 'retry-after': at } })));
    expect(dated.delayMs).toBeGreaterThan(100_000);
    expect(dated.delayMs).toBeLessThanOrEqual(120_000);
    await receiver!.close();
    const bare = await caught(() => sendWith(() => ({ status: 429 })));
    expect(bare).toMatchObject({ kind: 'rate-limited', delayMs: 30_000 });
  });

  it('retries on 500 and names the channel without the webhook URL', async () => {
    const err = await caught(() => sendWith(() => ({ status: 500, body: 'rollup_error' })));
    expect(err).toMatchObject({ kind: 'retryable', code: 'CP_DELIVERY_RETRYABLE' });
    expect(err.message).toBe('channel "ops-slack": Slack webhook answered HTTP 500: rollup_error');
  });

  it.each([
    [400, 'invalid_payload'],
    [400, 'user_not_found'],
    [403, 'action_prohibited'],
    [404, 'channel_not_found'],
    [404, 'no_service'],
    [410, 'channel_is_archived'],
    [401, 'anything_else'],
  ])('gives up on HTTP %i %s', async (status, body) => {
    const err = await caught(() => sendWith(() => ({ status, body })));
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(err.message).toContain(`HTTP ${status}: ${body}`);
    expect(receiver!.requests).toHaveLength(1);
  });

  it('treats a receiver slower than the timeout as retryable', async () => {
    const err = await caught(() => sendWith(() => ({ status: 200, body: 'ok', delayMs: 2000 }), 150));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toContain('no answer within 150 ms');
  });

  it('gives up on a receiver that drips its answer past the deadline', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const ch = channel(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const err = await caught(() => slackNotifier.send(slackNotifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext({}, 200)));
      expect(err).toMatchObject({ kind: 'retryable' });
      expect(err.message).toContain('no answer within');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('treats a refused connection as retryable', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    const ch = channel(receiver.url);
    await receiver.close();
    const err = await caught(() => slackNotifier.send(slackNotifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext()));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toContain('ECONNREFUSED');
    receiver = undefined;
  });

  it('refuses a loopback webhook unless private addresses are allowed, without sending', async () => {
    receiver = await startReceiver(() => ({ status: 200, body: 'ok' }));
    const ch = channel(receiver.url);
    const payload = slackNotifier.render({ type: 'alert', alert: sampleAlert() }, ch);
    const err = await caught(() => slackNotifier.send(payload, ch, { idempotencyKey: 'k', http: { allowPrivateAddresses: false, timeoutMs: 1000 } }));
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(err.message).toContain('allowPrivateAddresses');
    expect(receiver.requests).toHaveLength(0);
  });

  it('does not follow a redirect (the body would go elsewhere)', async () => {
    const err = await caught(() => sendWith(() => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } })));
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(err.message).toContain('redirects');
  });

  it('stops when the job is cancelled', async () => {
    receiver = await startReceiver(() => ({ status: 200, body: 'ok', delayMs: 2000 }));
    const ch = channel(receiver.url);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await caught(() => slackNotifier.send(slackNotifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext({ signal: controller.signal })));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toContain('cancelled');
  });
});
