import { describe, expect, it } from 'vitest';
import { riskAlert } from '../../src/alerts/risk.js';
import type { Digest } from '../../src/alerts/types.js';
import type { EmailChannelConfig, WatchlistConfig } from '../../src/config/schema.js';
import { renderEmailAlert, renderEmailDigest } from '../../src/notifiers/email-render.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { renderSlackAlert, renderSlackDigest } from '../../src/notifiers/slack.js';
import { renderTeamsAlert, renderTeamsDigest } from '../../src/notifiers/teams.js';

// A risk-index alert as the score stage raises it: built from 6 stories, it names only the latest story's source.
const risk = riskAlert({
  watchlist: { id: 'magnets', name: 'Magnets' } as WatchlistConfig,
  material: 'samarium',
  value: 130,
  threshold: 100,
  halfLifeHours: 72,
  stories: 6,
  episode: 1,
  level: 'high',
  item: {
    id: 'item-1',
    sourceId: 'mining-com',
    title: 'Samarium prices jump as Chinese exports slow',
    summary: '',
    url: 'https://example.org/samarium',
    publishedAt: '2025-07-20T08:00:00.000Z',
    fetchedAt: '2025-07-20T08:05:00.000Z',
  },
  now: new Date('2025-07-20T08:10:00.000Z'),
});
const story = { ...sampleAlert(), watchlistId: 'magnets', watchlistName: 'Magnets', id: 'story-1' };
const digest: Digest = { channelId: 'c', windowStart: '2025-07-19T08:00:00.000Z', windowEnd: '2025-07-20T08:00:00.000Z', alerts: [risk, story] };
const email: EmailChannelConfig = { id: 'ops', kind: 'email', optional: false, smtpUrl: 'smtp://h', from: 'a@example.com', to: 'b@example.com' };

describe('a risk-index alert', () => {
  it('does not claim "reported by 1 source" in Slack, Teams or email', () => {
    expect(risk.kind).toBe('risk-index');
    expect(risk.sources).toEqual(['mining-com']);
    const rendered = {
      slack: JSON.stringify(renderSlackAlert(risk)),
      teams: JSON.stringify(renderTeamsAlert(risk)),
      email: (({ text, html }) => text + html)(renderEmailAlert(risk, email)),
    };
    for (const [channel, text] of Object.entries(rendered)) {
      expect(text, channel).not.toContain('reported by');
      expect(text, channel).toContain('risk index 130 crossed 100');
    }
  });

  it('has no source count in a digest line, while a story beside it keeps its own', () => {
    const slack = JSON.stringify(renderSlackDigest(digest).blocks);
    const teams = JSON.stringify(renderTeamsDigest(digest));
    const mail = renderEmailDigest(digest, email);
    for (const [channel, text] of Object.entries({ slack, teams, text: mail.text, html: mail.html })) {
      expect(text, channel).not.toContain('reported by 1 source');
      expect(text, channel).toContain('reported by 3 sources');
    }
  });
});
