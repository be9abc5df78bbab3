import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDate } from '../../src/items/dates.js';
import { itemFingerprint } from '../../src/items/fingerprint.js';
import { htmlToText } from '../../src/items/text.js';
import { canonicalUrl } from '../../src/items/urls.js';

const markupish = fc.array(fc.oneof(fc.string(), fc.constantFrom('<', '>', '&', ';', '"', "'", '<p>', '</p>', '<script>', '</script>', '<!--', '-->', '<![CDATA[', ']]>', '&amp;', '&#x', '&#', '&lt;b&gt;', '\u0000', '\u00a0', '\ud83d')), { maxLength: 40 }).map((parts) => parts.join(''));

describe('normalisation properties', () => {
  it('htmlToText never throws and returns trimmed, folded text without control characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), markupish, fc.string({ unit: 'binary' })), (input) => {
        const text = htmlToText(input);
        expect(text).toBe(text.trim());
        expect(text).not.toMatch(/\s{2}|[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
      }),
      { numRuns: 2_000 },
    );
  });

  it('parseDate never throws and returns null or an ISO-8601 UTC instant', () => {
    const dateish = fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }).map(String), fc.constantFrom(' ', ',', ':', '-', 'T', 'Z', '+', 'GMT', 'Mon', 'Jan', '年', '月', '日', '.', '/')), { maxLength: 12 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), dateish), (input) => {
        const iso = parseDate(input);
        if (iso !== null) {
          expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
          expect(Number.isNaN(Date.parse(iso))).toBe(false);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('canonicalUrl never throws and returns an http(s) URL without fragment or tracking parameters', () => {
    const urlish = fc.oneof(fc.webUrl({ withFragments: true, withQueryParameters: true }), fc.string(), fc.webUrl().map((u) => `${u}?utm_source=x&id=1#f`));
    fc.assert(
      fc.property(urlish, fc.option(fc.webUrl(), { nil: undefined }), (input, base) => {
        const url = canonicalUrl(input, base);
        if (url !== undefined) {
          expect(url).toMatch(/^https?:\/\//);
          expect(url).not.toContain('#');
          expect(url).not.toMatch(/[?&]utm_/);
          expect(canonicalUrl(url)).toBe(url);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('itemFingerprint is deterministic for any input', () => {
    fc.assert(
      fc.property(fc.record({ sourceId: fc.string(), guid: fc.option(fc.string(), { nil: undefined }), url: fc.option(fc.string(), { nil: undefined }), title: fc.option(fc.string(), { nil: undefined }) }), (parts) => {
        expect(itemFingerprint(parts)).toMatch(/^[0-9a-f]{32}$/);
        expect(itemFingerprint({ ...parts })).toBe(itemFingerprint(parts));
      }),
    );
  });
});
