import { afterEach, describe, expect, it } from 'vitest';
import type { TeamsChannelConfig } from '../../src/config/schema.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { neutraliseMarkdown, payloadBytes, renderTeamsAlert, renderTeamsDigest, teamsNotifier } from '../../src/notifiers/teams.js';
import { caught, sendContext, startReceiver } from './receiver.js';

const WORKFLOW_PATH = '/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TeamsSigSecretAbCdEf0123456789xyz';

let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const channel = (base: string): TeamsChannelConfig => ({ id: 'ops-teams', kind: 'teams', optional: false, webhookUrl: base + WORKFLOW_PATH });

describe('Teams', () => {
  it('renders an Adaptive Card 1.4 message with level, title, why, facts and a link action', () => {
    const payload = renderTeamsAlert(sampleAlert());
    expect(payload.type).toBe('message');
    const [attachment] = payload.attachments;
    expect(attachment.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = attachment.content;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.body[0]).toMatchObject({ type: 'TextBlock', text: '🔴 CRITICAL', color: 'Attention' });
    expect(card.body[1]).toMatchObject({ text: 'China bans exports of gallium, germanium and antimony to the United States' });
    const facts = card.body.find((e) => e.type === 'FactSet') as { facts: Array<{ title: string; value: string }> };
    expect(facts.facts).toContainEqual({ title: 'Sources', value: 'reported by 3 sources: mofcom-announcements, reuters-commodities, mining-com' });
    expect(card.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Open the story', url: 'https://www.example.com/news/china-bans-gallium-germanium-exports' }]);
  });

  it('stops feed text from forming markdown links', () => {
    expect(neutraliseMarkdown('see [here](https://evil.example)')).toBe('see [here] (https://evil.example)');
    const payload = renderTeamsAlert({ ...sampleAlert(), why: 'see [here](https://evil.example)' });
    expect(JSON.stringify(payload)).not.toContain('](https://evil.example)');
  });

  it('keeps markdown links whole when a feed title or URL ends in a backslash', () => {
    const base = sampleAlert();
    const card = renderTeamsDigest({
      channelId: 'ops-teams',
      windowStart: '2024-12-02T08:00:00.000Z',
      windowEnd: '2024-12-03T08:00:00.000Z',
      alerts: [
        { ...base, id: 'x1', title: 'Harmless headline \\', url: 'https://e.com/one' },
        { ...base, id: 'x2', title: 'Second', url: 'https://e.com/two?q=\\' },
      ],
    });
    const markdown = card.attachments[0].content.body.map((b) => String(b.text)).join('\n');
    // No backslash is left to escape the "]" or ")" that closes a link.
    expect(markdown).not.toContain('\\');
    expect(markdown).toContain('[Harmless headline ∖](https://e.com/one)');
    expect(markdown).toContain('[Second](https://e.com/two?q=%5C)');
    const items = renderTeamsAlert({ ...base, items: [{ ...base.items[0], title: 'Item \\', url: 'https://e.com/i?q=\\' }] });
    expect(JSON.stringify(items.attachments[0].content.body)).toContain('[Item ∖](https://e.com/i?q=%5C)');
  });

  it('stays under the size limit with a huge explanation and hundreds of items', () => {
    const base = sampleAlert();
    const items = Array.from({ length: 400 }, (_, i) => ({ ...base.items[0], itemId: `i${i}`, title: `Item ${i} `.repeat(30) }));
    const payload = renderTeamsAlert({ ...base, why: 'x'.repeat(50_000), items, entities: Array(500).fill('gallium') });
    expect(payloadBytes(payload)).toBeLessThanOrEqual(27_000);
  });

  it('posts once and accepts the workflow\'s 202', async () => {
    receiver = await startReceiver(() => ({ status: 202 }));
    const ch = channel(receiver.url);
    const receipt = await teamsNotifier.send(teamsNotifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext());
    expect(receipt.response).toBe('HTTP 202');
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(receiver.requests[0].body).attachments[0].content.version).toBe('1.4');
  });

  it('waits out Teams throttling (429) and gives up when the flow is gone (404)', async () => {
    receiver = await startReceiver((i) => (i === 0 ? { status: 429, headers: { 'retry-after': '3' } } : { status: 404, body: 'WorkflowNotFound' }));
    const ch = channel(receiver.url);
    const send = () => teamsNotifier.send(teamsNotifier.render({ type: 'alert', alert: sampleAlert() }, ch), ch, sendContext());
    expect(await caught(send)).toMatchObject({ kind: 'rate-limited', delayMs: 3000 });
    const gone = await caught(send);
    expect(gone).toMatchObject({ kind: 'permanent' });
    expect(gone.message).toContain('flow was turned off');
  });
});
