/**
 * Dates in every form feeds use, to ISO-8601 UTC. Never throws: an unparseable date is null.
 * A date without a zone is taken as UTC, except Chinese-format dates (年/月/日), which Chinese official sites
 * publish in China Standard Time (UTC+8).
 */

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, sept: 8, oct: 9, nov: 10, dec: 11,
  // A few non-English abbreviations seen in European feeds.
  janv: 0, févr: 1, fevr: 1, mars: 2, avr: 3, mai: 4, juin: 5, juil: 6, août: 7, aout: 7, déc: 11, okt: 9, dez: 11, mär: 2, mrz: 2,
};

/** Offsets in minutes of named zones (RFC 822 and common abbreviations). */
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0, BST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120, EET: 120, EEST: 180, MSK: 180,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420, AKST: -540, AKDT: -480,
  HST: -600, IST: 330, JST: 540, KST: 540, HKT: 480, SGT: 480, AEST: 600, AEDT: 660, ACST: 570, AWST: 480, NZST: 720, NZDT: 780,
  A: -60, M: -720, N: 60, Y: 720,
};

const MIN_YEAR = 1900;
const MAX_YEAR = 2200;

function build(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, offsetMinutes = 0, ms = 0): string | null {
  if (year < 100) year += year < 50 ? 2000 : 1900;
  if (year < MIN_YEAR || year > MAX_YEAR || month < 0 || month > 11 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60) return null;
  const time = Date.UTC(year, month, day, hour, minute, Math.min(second, 59), ms) - offsetMinutes * 60_000;
  if (!Number.isFinite(time)) return null;
  const date = new Date(time);
  // Reject rollovers such as 31 February.
  const check = new Date(Date.UTC(year, month, day));
  if (check.getUTCDate() !== day) return null;
  return date.toISOString();
}

function offsetOf(zone: string | undefined): number | null {
  if (!zone) return 0;
  const z = zone.trim();
  const numeric = /^([+-])(\d{2}):?(\d{2})?$/.exec(z);
  if (numeric) return (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3] ?? 0));
  const gmtOffset = /^(?:GMT|UTC)([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(z);
  if (gmtOffset) return (gmtOffset[1] === '-' ? -1 : 1) * (Number(gmtOffset[2]) * 60 + Number(gmtOffset[3] ?? 0));
  const named = ZONES[z.toUpperCase()];
  return named ?? null;
}

const ISO = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T\s]+(\d{1,2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?|[A-Z]{2,5})?$/i;
const RFC822 = /^(?:[A-Za-zÀ-ÿ]{2,9}\.?,?\s*)?(\d{1,2})[\s-]+([A-Za-zÀ-ÿ]{3,9})\.?[\s-]+(\d{2,4})(?:[\sT,]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?\s*(?:(\(?[A-Za-z]{1,5}\)?|(?:GMT|UTC)?[+-]\d{1,2}:?\d{2}?))?/;
const MONTH_FIRST = /^(?:[A-Za-z]{2,9},?\s*)?([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?:[\s,]+(?:at\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*([A-Z]{2,5}|[+-]\d{2}:?\d{2})?$/;
const CHINESE = /(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?(?:\s*(\d{1,2})\s*[:：时點点]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?)?/;
const SLASHED = /^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses a date string to ISO-8601 UTC (e.g. "2025-04-04T12:30:00.000Z"), or null. */
export function parseDate(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  const text = String(value).trim().replace(/\s+/g, ' ');
  if (!text || text.length > 100) return null;
  try {
    return parseTrimmed(text);
  } catch {
    return null;
  }
}

function parseTrimmed(text: string): string | null {
  let m = ISO.exec(text);
  if (m) {
    const offset = offsetOf(m[8]);
    if (offset === null) return null;
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    return build(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), offset, ms);
  }
  m = CHINESE.exec(text);
  if (m) return build(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), 480);
  m = SLASHED.exec(text);
  if (m) {
    const offset = offsetOf(m[7]);
    return offset === null ? null : build(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), offset);
  }
  m = RFC822.exec(text);
  if (m) {
    const month = MONTHS[m[2].toLowerCase()] ?? MONTHS[m[2].toLowerCase().slice(0, 3)];
    const zone = m[7]?.replace(/[()]/g, '');
    const offset = offsetOf(zone);
    if (month !== undefined) return build(+m[3], month, +m[1], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), offset ?? 0);
  }
  m = MONTH_FIRST.exec(text);
  if (m) {
    const month = MONTHS[m[1].toLowerCase().slice(0, 3)];
    let hour = +(m[4] ?? 0);
    if (m[7]) hour = (hour % 12) + (m[7].toLowerCase() === 'pm' ? 12 : 0);
    const offset = offsetOf(m[8]);
    if (month !== undefined && offset !== null) return build(+m[3], month, +m[2], hour, +(m[5] ?? 0), +(m[6] ?? 0), offset);
  }
  // Unix seconds or milliseconds.
  if (/^\d{9,13}$/.test(text)) {
    const n = Number(text);
    return build(1970, 0, 1, 0, 0, 0, 0) && new Date(text.length > 11 ? n : n * 1000).toISOString();
  }
  return null;
}
