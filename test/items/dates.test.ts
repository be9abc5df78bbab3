import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDate } from '../../src/items/dates.js';

const at = (value: string) => parseDate(value);

describe('parseDate', () => {
  it.each([
    ['Thu, 01 Jan 2004 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 +0800', '2004-01-01T11:48:21.000Z'],
    ['Thu, 01 Jan 2004 19:48:21 -03:00', '2004-01-01T22:48:21.000Z'],
    ['Mon, 02 Jan 2006 15:04:05 EST', '2006-01-02T20:04:05.000Z'],
    ['Mon, 02 Jan 2006 15:04:05 PDT', '2006-01-02T22:04:05.000Z'],
    ['Mon, 02 Jan 2006 15:04:05 CEST', '2006-01-02T13:04:05.000Z'],
    ['Thu, 30 Apr 2015 08:57:00 MET', '2015-04-30T07:57:00.000Z'],
    ['Mon, 26 January 2004 16:31:00 ET', '2004-01-26T21:31:00.000Z'],
    ['Wed, 19 Aug 2009 18:28:00 Etc/GMT', '2009-08-19T18:28:00.000Z'],
    ['Wed, 19 Feb 2012 22:40:00 GMT-01:01', '2012-02-19T23:41:00.000Z'],
    ['02 Jan 2006 15:04:05 -0700', '2006-01-02T22:04:05.000Z'],
    ['Mon,02 January 2006 15:04:05 EST', '2006-01-02T20:04:05.000Z'],
    ['Mon, 13 Feb, 2012 06:28:00 UTC', '2012-02-13T06:28:00.000Z'],
    ['Thu, 01 Jan 2004 00:00 GMT', '2004-01-01T00:00:00.000Z'],
    ['Thu, 01 Jan 2004', '2004-01-01T00:00:00.000Z'],
  ])('reads the RFC 822 date %s', (input, expected) => {
    expect(at(input)).toBe(expected);
  });

  it('reads two-digit years as RFC 2822 does (00-49 is 20xx, 50-99 is 19xx)', () => {
    expect(at('Thu, 01 Jan 04 19:48:21 GMT')).toBe('2004-01-01T19:48:21.000Z');
    expect(at('Fri, 01 Jan 99 00:00:00 GMT')).toBe('1999-01-01T00:00:00.000Z');
  });

  it.each([
    ['2025-04-04T12:30:00Z', '2025-04-04T12:30:00.000Z'],
    ['2025-04-04T12:30:00+08:00', '2025-04-04T04:30:00.000Z'],
    ['2025-04-04T12:30:00.5-0500', '2025-04-04T17:30:00.500Z'],
    ['2003-12-31T10:14:55.1234Z', '2003-12-31T10:14:55.123Z'],
    ['2025-04-04', '2025-04-04T00:00:00.000Z'],
    ['2003-12', '2003-12-01T00:00:00.000Z'],
    ['20250404T123000Z', '2025-04-04T12:30:00.000Z'],
    ['2004-07-08 23:56:58 -00:20', '2004-07-09T00:16:58.000Z'],
  ])('reads the ISO 8601 date %s', (input, expected) => {
    expect(at(input)).toBe(expected);
  });

  it('reads a date without a zone as UTC', () => {
    expect(at('2025-04-04 12:30')).toBe('2025-04-04T12:30:00.000Z');
    expect(at('2006-01-02 15:04:05')).toBe('2006-01-02T15:04:05.000Z');
    expect(at('Thu, 01 Jan 2004 19:48:21')).toBe('2004-01-01T19:48:21.000Z');
  });

  it('reads Chinese official-site dates as China Standard Time', () => {
    expect(at('2025年4月4日')).toBe('2025-04-03T16:00:00.000Z');
    expect(at('2025年04月04日 12:30')).toBe('2025-04-04T04:30:00.000Z');
    expect(at('2025年4月4日 12时30分')).toBe('2025-04-04T04:30:00.000Z');
    expect(at('2025年4月4日 星期五 12:30:15')).toBe('2025-04-04T04:30:15.000Z');
  });

  it('reads slashed and dotted numeric dates that are not ambiguous', () => {
    expect(at('2025/04/04 12:30:00')).toBe('2025-04-04T12:30:00.000Z');
    expect(at('Fri, 2006/09/15 08:19:53 EDT')).toBe('2006-09-15T12:19:53.000Z');
    expect(at('04.04.2025')).toBe('2025-04-04T00:00:00.000Z');
    expect(at('04/05/2025')).toBeNull();
  });

  it('reads asctime, JavaScript and month-first dates', () => {
    expect(at('Sun Jan  4 16:29:06 2004')).toBe('2004-01-04T16:29:06.000Z');
    expect(at('Sun Jul 15 01:16:00 +0000 2012')).toBe('2012-07-15T01:16:00.000Z');
    expect(at('Thu Aug 30 2012 17:26:16 GMT+0200 (Central European Summer Time)')).toBe('2012-08-30T15:26:16.000Z');
    expect(at('April 4, 2025')).toBe('2025-04-04T00:00:00.000Z');
    expect(at('Apr 4th, 2025 10:30 PM EST')).toBe('2025-04-05T03:30:00.000Z');
  });

  it('reads month names of European feeds', () => {
    expect(at('Seg, 24 Set 2018 19:42:40 -0300')).toBe('2018-09-24T22:42:40.000Z');
    expect(at('Mo, 03 Mär 2025 10:00:00 +0100')).toBe('2025-03-03T09:00:00.000Z');
    expect(at('mer., 05 févr. 2025 10:00:00 +0100')).toBe('2025-02-05T09:00:00.000Z');
  });

  it.each(['', '   ', 'yesterday', 'Sun, 16 Dec 2012 1:2:3:4 GMT', 'Sun, 16 zzz 2012 11:47:32 GMT', 'Sun, 99 Jun 2009 12:00:00 GMT',
    'Sun, 16 Dec 2012 11:47:32 +zz:00', '2003-12-31T25:14:55Z', '2003-12-31T10:61:55Z', '2013-01-28T11:30:00-06:00Textra',
    '2025-02-30', '9999-12-31T23:59:59-99:99'])('returns null, not an error, for %j', (input) => {
    expect(at(input)).toBeNull();
  });

  it('returns null for a 10,000-character string without spending time on it', () => {
    expect(at(`Thu, 01 Jan 2004 ${'9'.repeat(10_000)}`)).toBeNull();
  });

  it('writes years before 1000 with four digits, and folds whitespace only where there is any', () => {
    expect(parseDate('0050-06-01')).toBe('0050-06-01T00:00:00.000Z');
    expect(parseDate('0999-12-31T23:00:00-02:00')).toBe('1000-01-01T01:00:00.000Z');
    expect(parseDate(' Thu,\n 01 Jan 2004\t19:48:21  GMT ')).toBe('2004-01-01T19:48:21.000Z');
  });

  it('returns null for missing values', () => {
    expect(parseDate(undefined)).toBeNull();
    expect(parseDate(null)).toBeNull();
  });
});

interface Vector {
  input: string;
  expectedUTC: string | null;
  parser?: string;
}

/** The date vectors of gofeed's and feedparser's test suites (see ../shared/feeds-corpus/README.md). */
function vectors(path: string): Vector[] {
  const url = new URL(`../../../shared/feeds-corpus/${path}`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { vectors: Vector[] }).vectors;
}

const sameSecond = (actual: string | null, expected: string | null) =>
  expected === null ? actual === null : actual !== null && Math.floor(Date.parse(actual) / 1000) === Math.floor(Date.parse(expected) / 1000);

describe('parseDate on the peer parsers\' date vectors', () => {
  it('reads every gofeed vector', () => {
    const misses = vectors('mmcdole-gofeed/derived/date-vectors.json').filter((v) => !sameSecond(parseDate(v.input), v.expectedUTC));
    expect(misses).toEqual([]);
  });

  it('reads every feedparser RFC 822, W3C-DTF and asctime vector', () => {
    const general = ['_parse_date_rfc822', '_parse_date_w3dtf', '_parse_date_asctime', '_parse_date_perforce', '_parse_date_onblog'];
    const misses = vectors('kurtmckee-feedparser/derived/date-vectors.json')
      .filter((v) => general.includes(v.parser ?? ''))
      .filter((v) => !sameSecond(parseDate(v.input), v.expectedUTC));
    expect(misses).toEqual([]);
  });
});
