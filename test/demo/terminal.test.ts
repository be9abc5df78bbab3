import { describe, expect, it } from 'vitest';
import { formatEmailNote, formatSlackMessage, mrkdwnToTerminal, wrap } from '../../src/demo/terminal.js';
import { renderSlackAlert } from '../../src/notifiers/slack.js';
import { sampleAlert } from '../../src/notifiers/sample.js';

const plain = { color: false, width: 100 };
const ansi = /\x1b\[[0-9;]*m/;

describe('the demo terminal renders Slack messages as Slack shows them', () => {
  it('turns a mrkdwn link into its label followed by the URL, with the escaped entities restored', () => {
    expect(mrkdwnToTerminal('<https://x.example/a?b=1&amp;c=2|Gallium &amp; germanium &lt;ban&gt;> (wire)', plain)).toBe(
      'Gallium & germanium <ban> (https://x.example/a?b=1&c=2) (wire)',
    );
  });

  it('drops the * and _ of bold and italic text, and draws them with ANSI codes only when colour is on', () => {
    expect(mrkdwnToTerminal('*Watchlist*\nCritical minerals _(escalated)_', plain)).toBe('Watchlist\nCritical minerals (escalated)');
    expect(mrkdwnToTerminal('*Watchlist*', { color: true, width: 100 })).toMatch(ansi);
    expect(mrkdwnToTerminal('a*b*c 2*3*4', plain)).toBe('a*b*c 2*3*4');
  });

  it('shows an alert with its header, the explanation, the fields side by side and the item links', () => {
    const alert = sampleAlert();
    const text = formatSlackMessage(renderSlackAlert(alert), '#procurement', new Date('2025-10-07T08:15:00Z'), plain);
    const lines = text.split('\n');
    expect(lines[0]).toBe('┌ Slack #procurement · 08:15:00');
    expect(lines[1]).toBe(`│ 🔴 CRITICAL: ${alert.title}`);
    expect(text).toMatch(/^│ Watchlist +Level$/m);
    expect(text).toMatch(/^│ Semiconductor inputs +CRITICAL \(score 91, escalation\)$/m);
    expect(text).toContain(`(${alert.items[0].url})`);
    expect(lines.at(-2)).toBe('└');
    expect(text).not.toMatch(ansi);
  });

  it('wraps long text to the width without breaking words', () => {
    const lines = wrap('export controls on gallium germanium and antimony', 20);
    expect(lines.every((l) => l.length <= 20)).toBe(true);
    expect(lines.join(' ')).toBe('export controls on gallium germanium and antimony');
  });

  it('writes one line per email caught, saying when it replies in a thread', () => {
    expect(formatEmailNote({ to: 'buyers@demo.example', subject: '[HIGH] Ban (escalated)', inReplyTo: '<a@b>' }, plain)).toBe(
      '✉ email to buyers@demo.example: [HIGH] Ban (escalated) (reply in the thread of the first alert)\n',
    );
  });
});
