/**
 * Dates in the forms feeds use, to ISO-8601 UTC. Never throws: an unparseable date is null, not an error.
 *
 * Zones: numeric (+0800, -03:00, GMT+2), named (GMT, EST, CEST, MET, AT/ET/CT/MT/PT, Etc/GMT, military letters).
 * A date with no zone is UTC — except dates written with 年/月/日 (Chinese official sites, China Standard Time,
 * UTC+8) and 년/월/일 (Korean sites, UTC+9), whose publishers never write a zone and always mean local time.
 */

const MONTH_NAMES: Record<string, number> = {};
// English, French, German, Spanish, Portuguese, Italian and Dutch abbreviations (first 3 or 4 letters, accents
// removed). None of them collides with another language's name for a different month.
for (const [month, names] of [
  [0, 'jan ene gen janv'], [1, 'feb fev fevr'], [2, 'mar mrz mrt maer'], [3, 'apr abr avr'], [4, 'may mai mag mei'],
  [5, 'jun giu juin'], [6, 'jul lug juil'], [7, 'aug ago aou'], [8, 'sep set sept'], [9, 'oct okt out ott'],
  [10, 'nov'], [11, 'dec dez dic'],
] as const) {
  for (const name of names.split(' ')) MONTH_NAMES[name] = month;
}

/** Offsets in minutes of named zones: RFC 822, the US single-letter-pair forms, and common abbreviations. */
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0, 'ETC/GMT': 0, 'ETC/UTC': 0, BST: 60, IST: 330, CET: 60, MET: 60, WEST: 60,
  CEST: 120, MEST: 120, EET: 120, SAST: 120, EEST: 180, MSK: 180,
  AST: -240, ADT: -180, AT: -240, EST: -300, EDT: -240, ET: -300, CST: -360, CDT: -300, CT: -360,
  MST: -420, MDT: -360, MT: -420, PST: -480, PDT: -420, PT: -480, AKST: -540, AKDT: -480, HST: -600,
  HKT: 480, SGT: 480, AWST: 480, JST: 540, KST: 540, ACST: 570, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780,
  // RFC 822 military zones, as RFC 1123 reads them (A = +1 ... M = +12, N = -1 ... Y = -12).
  A: 60, B: 120, C: 180, D: 240, E: 300, F: 360, G: 420, H: 480, I: 540, K: 600, L: 660, M: 720,
  N: -60, O: -120, P: -180, Q: -240, R: -300, S: -360, T: -420, U: -480, V: -540, W: -600, X: -660, Y: -720,
};

// A weekday in any language, ended by a comma or a space ("Mon, ", "Seg,", "mer. ").
const WEEKDAY = String.raw`(?:[^\s\d,]{2,12}\.?(?:,\s*|\s+))?`;
const TIME = String.raw`(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?`;
const ZONE = String.raw`([A-Za-z]{1,5}(?:/[A-Za-z]{2,5})?(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{1,2}(?::?\d{2})?)`;

/** 2025-04-04, 2025-04-04T12:30:00.5+08:00, 2025-04-04 12:30, 20250404T123000Z, 2003-12, 2003. */
const ISO = /^(\d{4})(?:-?(\d{2})(?:-?(\d{2})(?:[T\s]+(\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{2,5})?)?)?)?$/;
/** Thu, 01 Jan 2004 19:48:21 GMT; Mon,02 January 2006 15:04:05 EST; 13 Feb, 2012 06:28 UTC; Thu, 01 Jan 04. */
const RFC822 = new RegExp(String.raw`^${WEEKDAY}(\d{1,2})(?:st|nd|rd|th)?[\s.-]+([^\s\d,.-]{3,12})\.?,?[\s-]+(\d{2}|\d{4})(?:[\sT,]+${TIME})?(?:\s*${ZONE})?(?:\s*\(.*\))?$`);
/** Sun Jan  4 16:29:06 2004 (asctime); Sun Jul 15 01:16:00 +0000 2012; Thu Aug 30 2012 17:26:16 GMT+0200 (CEST). */
const ASCTIME = new RegExp(String.raw`^${WEEKDAY}([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:\s+(\d{4}))?\s+${TIME}(?:\s*${ZONE})?(?:\s+(\d{4}))?(?:\s*\(.*\))?$`);
/** April 4, 2025; Apr 4th, 2025 10:30 AM EST; April 4, 2025 at 10:30 pm. */
const MONTH_FIRST = new RegExp(String.raw`^${WEEKDAY}([^\s\d,.]{3,12})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?:[\s,]+(?:at\s+)?${TIME}\s*([AaPp]\.?[Mm]\.?)?)?(?:\s*${ZONE})?$`);
/** 2025/04/04 12:30:00; Fri, 2006/09/15 08:19:53 EDT; 2025.4.4. */
const SLASHED = new RegExp(String.raw`^${WEEKDAY}(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[\sT]+${TIME})?(?:\s*${ZONE})?$`);
/** 04.04.2025 and 04.04.2025 12:30 (European day-first; the slash form is ambiguous between US and EU, so not read). */
const DOTTED = new RegExp(String.raw`^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+${TIME})?(?:\s*${ZONE})?$`);
/** 2025年4月4日, 2025年04月04日 12:30, 2025年4月4日 12时30分; 2004년 05월 28일 01:31:15. */
const CJK = /^(\d{4})\s*([年년])\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?\s*(?:[^\d\s]{1,4}\s*)?(?:(\d{1,2})\s*[:：时點点시]\s*(\d{1,2})\s*(?:[:：分분]\s*(?:(\d{1,2})\s*[秒초]?)?)?)?$/;

const FOLDABLE = /\s\s|[^\S ]/;

/** Parses a date string to ISO-8601 UTC (e.g. "2025-04-04T12:30:00.000Z"), or null when it cannot be read. */
export function parseDate(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  const written = String(value);
  // Feed parsers hand over folded text: only fold what needs it.
  const text = (FOLDABLE.test(written) ? written.replace(/\s+/g, ' ') : written).trim();
  // Real dates are short; anything longer is not a date and must not cost regex time.
  if (!text || text.length > 64) return null;
  try {
    return parseText(text);
  } catch {
    return null;
  }
}

function parseText(text: string): string | null {
  // RFC 822 dates start with a weekday or day, ISO ones with the year: try the likely form first.
  let m = text.charCodeAt(0) > 0x39 || text.charCodeAt(2) === 0x20 ? RFC822.exec(text) : null;
  if (m) return build(year(m[3]), month(m[2]), +m[1], m[4], m[5], m[6], zoneOffset(m[7]));
  m = ISO.exec(text);
  if (m) {
    const ms = m[7] ? Math.floor(Number(`0.${m[7].slice(0, 3).padEnd(3, '0')}`) * 1000) : 0;
    return build(+m[1], m[2] ? +m[2] - 1 : 0, m[3] ? +m[3] : 1, m[4], m[5], m[6], zoneOffset(m[8]), ms);
  }
  m = RFC822.exec(text);
  if (m) return build(year(m[3]), month(m[2]), +m[1], m[4], m[5], m[6], zoneOffset(m[7]));
  m = ASCTIME.exec(text);
  if (m && (m[3] || m[8])) return build(+(m[3] ?? m[8]), month(m[1]), +m[2], m[4], m[5], m[6], zoneOffset(m[7]));
  m = MONTH_FIRST.exec(text);
  if (m) return build(+m[3], month(m[1]), +m[2], hour12(m[4], m[7]), m[5], m[6], zoneOffset(m[8]));
  m = SLASHED.exec(text);
  if (m) return build(+m[1], +m[2] - 1, +m[3], m[4], m[5], m[6], zoneOffset(m[7]));
  m = DOTTED.exec(text);
  if (m) return build(+m[3], +m[2] - 1, +m[1], m[4], m[5], m[6], zoneOffset(m[7]));
  m = CJK.exec(text);
  if (m) return build(+m[1], +m[3] - 1, +m[4], m[5], m[6], m[7], m[2] === '年' ? 480 : 540);
  // Unix time in seconds or milliseconds (some JSON-ish feeds).
  if (/^\d{10}$|^\d{13}$/.test(text)) return isoString(text.length === 13 ? +text : +text * 1000);
  return null;
}

/** Two-digit years as RFC 2822 reads them: 00-49 are 2000-2049, 50-99 are 1950-1999. */
function year(written: string): number {
  const y = +written;
  return written.length === 2 ? (y < 50 ? 2000 + y : 1900 + y) : y;
}

function month(name: string): number {
  const quick = MONTH_NAMES[name.slice(0, 3).toLowerCase()];
  if (quick !== undefined && name.length <= 3) return quick;
  const key = name.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f.]/g, '');
  return MONTH_NAMES[key.slice(0, 4)] ?? MONTH_NAMES[key.slice(0, 3)] ?? NaN;
}

function hour12(hour: string | undefined, meridiem: string | undefined): string | undefined {
  if (hour === undefined || !meridiem) return hour;
  const pm = /^p/i.test(meridiem);
  return String((+hour % 12) + (pm ? 12 : 0));
}

/** Minutes east of UTC, 0 when absent, NaN when written but not understood (the date is then refused). */
function zoneOffset(zone: string | undefined): number {
  if (!zone) return 0;
  const z = zone.toUpperCase();
  const numeric = /^(?:GMT|UTC|UT|ETC\/GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(z);
  if (numeric) {
    const hours = +numeric[2];
    const minutes = +(numeric[3] ?? 0);
    if (hours > 14 || minutes > 59) return NaN;
    return (numeric[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  return ZONES[z] ?? NaN;
}

function build(
  y: number, mon: number, day: number, h: string | undefined, mi: string | undefined, s: string | undefined,
  offsetMinutes: number, ms = 0,
): string | null {
  const hour = +(h ?? 0);
  const minute = +(mi ?? 0);
  const second = +(s ?? 0);
  if (!Number.isInteger(y) || y < 1 || y > 9999 || !(mon >= 0 && mon <= 11) || !(day >= 1 && day <= 31)) return null;
  if (!(hour <= 23 && minute <= 59 && second <= 60) || Number.isNaN(offsetMinutes)) return null;
  // Reject rollovers such as 31 February rather than silently moving to March.
  if (day > 28 && day > daysIn(y, mon)) return null;
  let time = Date.UTC(y, mon, day, hour, minute, Math.min(second, 59), ms);
  // Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear does not.
  if (y < 100) time = new Date(time).setUTCFullYear(y);
  time -= offsetMinutes * 60_000;
  return Number.isFinite(time) ? isoString(time) : null;
}

/** What Date.prototype.toISOString returns (and throws), in a third of its time for the four-digit years of real dates. */
export function isoString(time: number): string {
  const date = new Date(time);
  const y = date.getUTCFullYear();
  if (!(y >= 1000 && y <= 9999)) return date.toISOString();
  return `${y}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${three(date.getUTCMilliseconds())}Z`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function three(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}

function daysIn(y: number, mon: number): number {
  return new Date(Date.UTC(2000, mon + 1, 0)).getUTCDate() - (mon === 1 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 1 : 0);
}
