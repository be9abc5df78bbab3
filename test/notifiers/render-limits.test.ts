import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert, Digest } from '../../src/alerts/types.js';
import type { EmailChannelConfig } from '../../src/config/schema.js';
import { EMAIL_DIGEST_MAX_HTML_BYTES, renderEmailAlert, renderEmailDigest } from '../../src/notifiers/email-render.js';
import { truncate } from '../../src/notifiers/format.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { mrkdwn, renderSlackAlert, renderSlackDigest, SLACK_LIMITS, type SlackPayload } from '../../src/notifiers/slack.js';
import { payloadBytes, renderTeamsAlert, renderTeamsDigest, TEAMS_MAX_BYTES } from '../../src/notifiers/teams.js';
import { LEVELS } from '../../src/scoring/types.js';

// Feed text is arbitrary: emoji, markup, control characters, Slack and HTML specials.
const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: fc.constantFrom('&', '<', '>', '|', '*', '_', '\n', ' ', 'a', '🔴', '"', '[', ']', '(', ')', '!'), maxLength }),
  );

const alertArb: fc.Arbitrary<Alert> = fc
  .record({
    id: fc.stringMatching(/^[a-z0-9:-]{1,40}$/),
    watchlistId: fc.constantFrom('semis', 'magnets', 'batteries', 'optics'),
    title: text(600),
    why: text(5000),
    url: fc.option(fc.webUrl(), { nil: undefined }),
    level: fc.constantFrom(...LEVELS),
    score: fc.integer({ min: 0, max: 100 }),
    version: fc.integer({ min: 1, max: 9 }),
    reason: fc.constantFrom('first', 'escalated', 'direction-changed', 'corroborated', 'test' as const),
    entities: fc.array(text(60), { maxLength: 40 }),
    sources: fc.array(fc.stringMatching(/^[a-z-]{1,30}$/), { minLength: 1, maxLength: 30 }),
    itemTitles: fc.array(text(400), { maxLength: 30 }),
  })
  .map(({ itemTitles, ...fields }) => {
    const base = sampleAlert();
    return {
      ...base,
      ...fields,
      watchlistName: fields.watchlistId.toUpperCase(),
      items: itemTitles.map((title, i) => ({ ...base.items[0], itemId: `i${i}`, title })),
    };
  });

/** No lone surrogate (String#isWellFormed is ES2024; tsconfig targets ES2023). */
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
/** Every string in a payload (JSON.stringify would escape a lone surrogate and hide it). */
const stringsOf = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(stringsOf) : [];

const digestOf = (alerts: Alert[]): Digest => ({ channelId: 'c', windowStart: '2024-12-02T08:00:00.000Z', windowEnd: '2024-12-03T08:00:00.000Z', alerts });

function checkSlack(payload: SlackPayload) {
  expect(payload.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(payload.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
  let total = 0;
  for (const block of payload.blocks) {
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    if (block.type === 'section') {
      if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      expect((block.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
      for (const field of block.fields ?? []) expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
    }
    if (block.type === 'context') {
      expect(block.elements.length).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
      for (const element of block.elements) expect(element.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    }
    total += JSON.stringify(block).length;
  }
  // Slack refuses messages with much more than ~13k characters of blocks (msg_blocks_too_long).
  expect(total).toBeLessThan(13_000);
  // A cut emoji (a lone surrogate) makes the whole payload invalid.
  for (const str of stringsOf(payload)) expect(wellFormed(str)).toBe(true);
}

/** "… and N more" plus the alert lines shown must account for every alert of the digest. */
function slackDigestCount(payload: SlackPayload): number {
  const texts = payload.blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : b.type === 'context' ? b.elements.map((e) => e.text) : []));
  const lines = texts.flatMap((t) => t.split('\n')).filter((line) => /^(🔴|🟠|🟡|🔵|⚪) \*[A-Z]+\*/.test(line)).length;
  const more = texts.map((t) => /^… and (\d+) more/.exec(t)).find(Boolean);
  return lines + (more ? Number(more[1]) : 0);
}

const email: EmailChannelConfig = { id: 'ops', kind: 'email', optional: false, smtpUrl: 'smtp://h', from: 'a@example.com', to: 'b@example.com' };

describe('render limits hold for any feed text', () => {
  it('truncate never exceeds the limit nor splits a surrogate pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 1, max: 300 }), (s, max) => {
        const out = truncate(s, max);
        expect(out.length).toBeLessThanOrEqual(max);
        expect(wellFormed(out)).toBe(true);
      }),
    );
  });

  it('mrkdwn keeps the longest prefix that fits once escaped, never nothing, however dense the text is in &, < and >', () => {
    expect(mrkdwn('R&D '.repeat(200), 300)).toMatch(/^(R&amp;D ){20,}/);
    expect(mrkdwn('A&B<C>'.repeat(60), 150).length).toBeGreaterThan(100);
    // Not even one character fits once escaped: the ellipsis, within the limit.
    expect(mrkdwn('&', 1)).toBe('…');
    expect(mrkdwn('a&', 3)).toBe('…');
    fc.assert(
      fc.property(text(400), fc.integer({ min: 1, max: 300 }), (raw, max) => {
        const out = mrkdwn(raw, max);
        expect(out.length).toBeLessThanOrEqual(max);
        if (raw.length > 0) expect(out.length).toBeGreaterThan(0);
        // One character more would not fit: the cut is the longest.
        if (out.endsWith('…')) expect(mrkdwn(raw, max + 1).length).toBeGreaterThanOrEqual(out.length);
      }),
      { numRuns: 2_000 },
    );
  });

  it('a Slack alert stays within Block Kit limits', () => {
    fc.assert(
      fc.property(alertArb, (alert) => {
        checkSlack(renderSlackAlert(alert));
      }),
      { numRuns: 200 },
    );
  });

  it('untrusted text cannot ping @channel in Slack', () => {
    fc.assert(
      fc.property(alertArb, (alert) => {
        const payload = renderSlackAlert({ ...alert, title: `<!channel> ${alert.title}`, why: `<!here> ${alert.why}` });
        // Header text is plain_text, which Slack never parses for mentions; everything else is mrkdwn.
        const mrkdwn = [payload.text, ...payload.blocks.filter((b) => b.type !== 'header').map((b) => JSON.stringify(b))];
        for (const text of mrkdwn) expect(text).not.toMatch(/<!(channel|here)/);
        // Nor as plain words: every mrkdwn text is verbatim, so Slack does not parse "@channel" or "#general" in it.
        const texts: Array<Record<string, unknown>> = [];
        const walk = (node: unknown): void => {
          if (Array.isArray(node)) node.forEach(walk);
          else if (node && typeof node === 'object') {
            if ((node as { type?: unknown }).type === 'mrkdwn') texts.push(node as Record<string, unknown>);
            Object.values(node).forEach(walk);
          }
        };
        walk(payload.blocks);
        expect(texts.length).toBeGreaterThan(0);
        for (const text of texts) expect(text.verbatim).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('a Slack digest of up to 200 alerts stays within limits and accounts for every alert', () => {
    fc.assert(
      fc.property(fc.array(alertArb, { maxLength: 200, size: 'max' }), (alerts) => {
        const payload = renderSlackDigest(digestOf(alerts));
        checkSlack(payload);
        expect(slackDigestCount(payload)).toBe(alerts.length);
      }),
      { numRuns: 30, endOnFailure: true },
    );
  });

  it('a Teams card stays under 28 KB, alert or digest of up to 200 alerts', () => {
    fc.assert(
      fc.property(alertArb, (alert) => {
        expect(payloadBytes(renderTeamsAlert(alert))).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(fc.array(alertArb, { maxLength: 200, size: 'max' }), (alerts) => {
        const card = renderTeamsDigest(digestOf(alerts));
        expect(payloadBytes(card)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
        for (const str of stringsOf(card)) expect(wellFormed(str)).toBe(true);
      }),
      { numRuns: 20, endOnFailure: true },
    );
  });

  it('an email subject is one bounded line and its HTML contains no markup from the feed', () => {
    fc.assert(
      fc.property(alertArb, (alert) => {
        const mail = renderEmailAlert({ ...alert, title: `<b onclick=x>${alert.title}`, why: `<script>${alert.why}` }, email);
        expect(mail.subject).not.toMatch(/[\r\n]/);
        expect(mail.subject.length).toBeLessThanOrEqual(200);
        expect(mail.html).not.toContain('<script');
        expect(mail.html).not.toContain('<b onclick');
      }),
      { numRuns: 100 },
    );
  });

  describe('with long links whose "&"s grow fivefold when escaped', () => {
    // 1955 characters, 480 of them "&": 3875 once escaped.
    const ampersands = `https://example.org/search?${'a=1&'.repeat(480)}xxxxxxxx`;
    // 1955 characters without "&": fits a 2000-character check, but not beside a title in the items section.
    const plain = `https://example.org/${'p'.repeat(1935)}`;
    const linked = `https://example.org/q?${'k=v&'.repeat(150)}end`; // 1225 characters escaped: still linked
    const itemsWith = (url: string) => Array.from({ length: 5 }, (_, i) => ({ ...sampleAlert().items[0], itemId: `i${i}`, url, title: `Item ${i} & more `.repeat(20) }));

    it('keeps every Slack text element of an alert within its limit, escaping nothing twice', () => {
      expect([ampersands.length, plain.length]).toEqual([1955, 1955]);
      for (const url of [ampersands, plain, linked]) {
        const payload = renderSlackAlert({ ...sampleAlert(), url, items: itemsWith(url) });
        checkSlack(payload);
        const json = JSON.stringify(payload.blocks);
        expect(json).not.toMatch(/&lt;https?:|&amp;(amp|lt|gt);/);
      }
    });

    it('keeps every Slack text element of a digest within its limit, escaping nothing twice', () => {
      for (const url of [ampersands, plain, linked]) {
        const alerts = Array.from({ length: 30 }, (_, i) => ({ ...sampleAlert(), id: `a${i}`, url, title: `Alert ${i} & co `.repeat(20) }));
        const payload = renderSlackDigest(digestOf(alerts));
        checkSlack(payload);
        expect(slackDigestCount(payload)).toBe(30);
        expect(JSON.stringify(payload.blocks)).not.toMatch(/&lt;https?:|&amp;(amp|lt|gt);/);
      }
    });

    it('links a long URL that fits once escaped, with each "&" escaped once', () => {
      const payload = renderSlackAlert({ ...sampleAlert(), url: linked, items: itemsWith(linked) });
      const context = payload.blocks.at(-1)!;
      expect(context.type === 'context' && context.elements[0].text).toMatch(/^<https:\/\/example\.org\/q\?(k=v&amp;){150}end\|Open the story> · /);
    });
  });

  it('a Slack digest of 200 alerts ends with "… and N more" for what does not fit', () => {
    const alerts = Array.from({ length: 200 }, (_, i) => ({ ...sampleAlert(), id: `a${i}`, title: `Alert number ${i} `.repeat(10) }));
    const payload = renderSlackDigest(digestOf(alerts));
    checkSlack(payload);
    const last = payload.blocks.at(-1)!;
    expect(last.type === 'context' && last.elements[0].text).toMatch(/^… and \d+ more/);
    expect(slackDigestCount(payload)).toBe(200);
  });

  it('counts alerts the digest stage left out in every channel', () => {
    const digest = { ...digestOf([sampleAlert()]), omitted: 41 };
    const slack = renderSlackDigest(digest);
    expect(slack.text).toContain('42 alerts');
    expect(slackDigestCount(slack)).toBe(42);
    expect(JSON.stringify(renderTeamsDigest(digest))).toContain('… and 41 more');
    expect(renderEmailDigest(digest, email).text).toContain('… and 41 more');
  });

  it('shows a digest window in the schedule\'s time zone', () => {
    const slack = renderSlackDigest({ ...digestOf([]), timezone: 'Europe/Berlin' });
    expect(JSON.stringify(slack.blocks)).toContain('2024-12-02 09:00 GMT+1 – 2024-12-03 09:00 GMT+1');
  });

  it('a digest with 200 alerts renders every alert in email', () => {
    const alerts = Array.from({ length: 200 }, (_, i) => ({ ...sampleAlert(), id: `a${i}`, title: `Alert number ${i}` }));
    const mail = renderEmailDigest(digestOf(alerts), email);
    for (const i of [0, 99, 199]) expect(mail.text).toContain(`Alert number ${i} (`);
  });

  describe('when a digest must be cut', () => {
    // Group "Magnets" sorts first (its critical alert has the higher score) and alone overflows every channel.
    const base = sampleAlert();
    const longTitle = (i: number) => `Minor item about magnets number ${i} `.padEnd(280, '.');
    const magnets = Array.from({ length: 151 }, (_, i) => ({
      ...base,
      id: `m${i}`,
      watchlistId: 'magnets',
      watchlistName: 'Magnets',
      level: i === 0 ? ('critical' as const) : ('info' as const),
      score: i === 0 ? 95 : 10,
      title: i === 0 ? 'NdFeB magnet export licences suspended' : longTitle(i),
      url: `https://example.org/magnets/${'m'.repeat(600)}/${i}`,
    }));
    const semis = { ...base, id: 's0', watchlistId: 'semis', watchlistName: 'Semis', level: 'critical' as const, score: 94, title: 'Gallium export ban takes effect' };
    const digest = digestOf([...magnets, semis]);

    it('keeps the critical alert of every watchlist in Slack, Teams and email, and counts the rest exactly', () => {
      const slack = renderSlackDigest(digest);
      checkSlack(slack);
      const slackText = JSON.stringify(slack.blocks);
      expect(slackText).toContain('Gallium export ban takes effect');
      expect(slackText).toContain('NdFeB magnet export licences suspended');
      expect(slackText.indexOf('*Magnets*')).toBeLessThan(slackText.indexOf('*Semis*'));
      expect(slackDigestCount(slack)).toBe(152);
      expect(slackText).toMatch(/… and \d+ more/);

      const teams = renderTeamsDigest(digest);
      expect(payloadBytes(teams)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
      const teamsText = JSON.stringify(teams);
      expect(teamsText).toContain('Gallium export ban takes effect');
      const teamsShown = (teamsText.match(/- (🔴|⚪) \*\*/g) ?? []).length;
      expect(teamsShown).toBeLessThan(152);
      expect(teamsText).toContain(`… and ${152 - teamsShown} more`);

      const mail = renderEmailDigest(digest, email);
      expect(mail.html).toContain('Gallium export ban takes effect');
      const mailShown = (mail.text.match(/^- \[(CRITICAL|INFO)\]/gm) ?? []).length;
      expect(mailShown).toBeLessThan(152);
      expect(mail.text).toContain(`… and ${152 - mailShown} more`);
      expect(mail.html).toContain(`… and ${152 - mailShown} more`);
      // Grouped as before: each watchlist's title counts all its alerts, shown or not.
      expect(mail.text).toContain('Magnets (151 alerts)');
    });

    it('keeps an email digest below Gmail\'s clipping size, at the default of 100 alerts with long titles and links', () => {
      const alerts = Array.from({ length: 100 }, (_, i) => ({
        ...base,
        id: `a${i}`,
        watchlistId: `w${i}`,
        watchlistName: `Watchlist & <${i}>`,
        level: (['critical', 'high', 'medium', 'low', 'info'] as const)[i % 5],
        title: `Title ${i} `.padEnd(300, 'x&'),
        url: `https://example.org/${'p'.repeat(1400)}${i}`,
      }));
      const mail = renderEmailDigest({ ...digestOf(alerts), omitted: 7 }, email);
      expect(Buffer.byteLength(mail.html, 'utf8')).toBeLessThanOrEqual(EMAIL_DIGEST_MAX_HTML_BYTES);
      expect(EMAIL_DIGEST_MAX_HTML_BYTES * (4 / 3)).toBeLessThan(102_000);
      const shown = (mail.text.match(/^- \[[A-Z]+\]/gm) ?? []).length;
      expect(shown).toBeGreaterThan(0);
      expect(mail.text).toContain(`… and ${107 - shown} more`);
      // The cut removes the least severe first: all 20 critical alerts stay, nothing below HIGH does.
      expect(shown).toBeGreaterThan(20);
      expect(mail.text.match(/^- \[CRITICAL\]/gm)).toHaveLength(20);
      expect(mail.text).not.toMatch(/^- \[(MEDIUM|LOW|INFO)\]/m);
    });
  });
});
