import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clip, decodeEntities, foldText, htmlToText, LIMITS, makeItem, resolveUrl, type RawFields } from '../../src/items/normalise.js';

/**
 * The normaliser sits between every source and everything downstream: for any raw fields it must return an Item,
 * never throw, and keep the promises the rest of the pipeline relies on (caps, one line of text, stable ids).
 */
const markup = fc
  .array(fc.oneof(fc.string(), fc.constantFrom('<', '>', '&', ';', '<p>', '</p>', '<br/>', '<script>x</script>', '<!--', '-->', '&amp;', '&#8217;', '&#x1F600;', '&#xD800;', '&#99999999;', '&nbsp;', '\u0000', '\u200b', '\u00ad', '\ud83d\ude00', '\ud83d')), { maxLength: 30 })
  .map((parts) => parts.join(''));
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), markup);
const long = fc.tuple(fc.constantFrom('a ', 'word ', '\ud83d\ude00', '<b>x</b> '), fc.integer({ min: 500, max: 3_000 })).map(([unit, n]) => unit.repeat(n));

const rawFields = fc.record(
  {
    sourceId: fc.constantFrom('wire', 'gazette'),
    guid: fc.oneof(text, fc.integer().map(String)),
    title: fc.oneof(text, long),
    summary: fc.oneof(text, long),
    content: fc.oneof(text, long),
    url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), text, fc.constantFrom('/relative?utm_source=x', 'javascript:alert(1)', 'mailto:a@b', 'http://user:pass@host/x')),
    baseUrl: fc.oneof(fc.webUrl(), text),
    date: fc.oneof(text, fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'Invalid' : d.toUTCString()))),
    author: text,
    categories: fc.array(text, { maxLength: 150 }),
    language: text,
    plainText: fc.constant(false),
  },
  { requiredKeys: ['sourceId'] },
).map((r): RawFields => ({ ...r, fetchedAt: new Date('2026-03-01T12:00:00Z') }));

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('the normaliser', () => {
  it('turns any raw fields into an item with capped, single-line text and a stable id', () => {
    fc.assert(
      fc.property(rawFields, (raw) => {
        const item = makeItem(raw);
        expect(item.id).toMatch(/^[0-9a-f]{32}$/);
        expect(makeItem(raw).id).toBe(item.id);
        expect(item.title.length).toBeLessThanOrEqual(LIMITS.title);
        expect(item.summary.length).toBeLessThanOrEqual(LIMITS.summary);
        expect((item.content ?? '').length).toBeLessThanOrEqual(LIMITS.content);
        expect((item.author ?? '').length).toBeLessThanOrEqual(LIMITS.author);
        expect((item.categories ?? []).length).toBeLessThanOrEqual(LIMITS.categories);
        for (const field of [item.title, item.summary]) expect(field).not.toMatch(/[\n\r\t\u0000]|\s{2}/);
        if (item.url !== undefined) {
          const url = new URL(item.url);
          expect(url.protocol).toMatch(/^https?:$/);
          expect(url.username + url.password).toBe('');
          // No fragment but an item's own anchor on a page of many (itemAnchor).
          expect(url.hash).toMatch(/^(#[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/);
        }
        if (item.publishedAt !== null) expect(Number.isNaN(Date.parse(item.publishedAt))).toBe(false);
        // An item always has something to read and match: its title, or the start of its text.
        if (item.summary || item.content) expect(item.title).not.toBe('');
      }),
      { numRuns: 1_000 },
    );
  });

  it('folds text idempotently, and cleaning text twice changes nothing', () => {
    fc.assert(
      fc.property(text, (input) => {
        const folded = foldText(input);
        expect(foldText(folded)).toBe(folded);
        const clean = htmlToText(input);
        expect(foldText(clean)).toBe(clean);
      }),
      { numRuns: 2_000 },
    );
  });

  it('decodes any entity soup without throwing, and leaves text without "&" untouched', () => {
    fc.assert(
      fc.property(fc.oneof(markup, fc.string()), (input) => {
        const decoded = decodeEntities(input);
        expect(typeof decoded).toBe('string');
        if (!input.includes('&')) expect(decoded).toBe(input);
      }),
      { numRuns: 2_000 },
    );
  });

  it('clips to the limit, never splitting a surrogate pair', () => {
    fc.assert(
      fc.property(fc.oneof(text, long, fc.string({ unit: 'grapheme' })), fc.integer({ min: 2, max: 400 }), (input, max) => {
        const out = clip(input, max);
        expect(out.length).toBeLessThanOrEqual(max);
        if (input.length <= max) expect(out).toBe(input);
        // A cut may not create a lone high surrogate (one already in the input is the input's own).
        else if (!LONE_SURROGATE.test(input)) expect(out).not.toMatch(LONE_SURROGATE);
      }),
      { numRuns: 2_000 },
    );
  });

  it('resolves any link against any base without throwing', () => {
    fc.assert(
      fc.property(fc.option(text, { nil: undefined }), fc.option(fc.oneof(fc.webUrl(), text), { nil: undefined }), (link, base) => {
        const out = resolveUrl(link, base);
        if (out !== undefined) expect(typeof out).toBe('string');
      }),
      { numRuns: 2_000 },
    );
  });
});
