/**
 * Wall-clock arithmetic in an IANA time zone with nothing but Intl, for quiet hours and digest windows.
 * Pure: every function takes the instant it reasons about.
 */

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock time at an instant in a time zone. */
export function wallTime(ms: number, timeZone: string): WallTime & { second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute, second: parts.second };
}

/** Offset of the zone from UTC at an instant, in ms (positive east of Greenwich). */
function offsetAt(ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant a wall-clock time happens in a zone. In the autumn overlap the earlier instant is taken, unless it is
 * before `notBefore` (then the later one: the wall time's next occurrence); a time that does not exist (the spring
 * gap) resolves to the same distance after the gap, i.e. an hour later by the clock.
 */
export function zonedTime(wall: WallTime, timeZone: string, notBefore = -Infinity): number {
  const guess = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const before = offsetAt(guess - 86_400_000, timeZone);
  const after = offsetAt(guess + 86_400_000, timeZone);
  const candidates = [guess - before, guess - after].filter((t) => {
    const w = wallTime(t, timeZone);
    return w.hour === wall.hour && w.minute === wall.minute && w.day === wall.day;
  });
  if (candidates.length) {
    const due = candidates.filter((t) => t >= notBefore);
    return Math.min(...(due.length ? due : candidates));
  }
  return guess - before;
}

/** "22:30" -> minutes after midnight. */
export function clockMinutes(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h * 60 + m;
}

export interface QuietHours {
  start: string;
  end: string;
  timezone: string;
}

/**
 * Whether an instant falls in the quiet hours (a window that may cross midnight, e.g. 22:00-07:00 local time),
 * and if so the instant they end.
 */
export function quietHoursAt(ms: number, quiet: QuietHours): { quiet: false } | { quiet: true; endsAt: number } {
  const start = clockMinutes(quiet.start);
  const end = clockMinutes(quiet.end);
  if (start === end) return { quiet: false };
  const w = wallTime(ms, quiet.timezone);
  const minute = w.hour * 60 + w.minute;
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!inside) return { quiet: false };
  // Past midnight already (or a same-day window): the end is today; otherwise it is tomorrow.
  const endsToday = start < end || minute < end;
  const day = new Date(Date.UTC(w.year, w.month - 1, w.day + (endsToday ? 0 : 1)));
  // The end still to come: in the hour the clocks go back, "02:30" has already passed once by 02:10 the second time.
  const endsAt = zonedTime(
    { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), hour: Math.floor(end / 60), minute: end % 60 },
    quiet.timezone,
    ms,
  );
  return { quiet: true, endsAt: Math.max(endsAt, ms) };
}

/**
 * When a routine delivery must not be sent now because its channel is in quiet hours: the instant they end (else
 * undefined). `quietHours`: undefined for a critical alert, which ignores them. `dueInQuietHours`: the moment it was
 * scheduled for inside quiet hours on purpose (parked for, or deferred to by its decision, as a throttle backlog past
 * MAX_QUIET_MOVES of them: see movePastQuietHours in dispatch.ts); once come, in these very quiet hours, it is sent
 * rather than held for ever. Any other moment that falls in quiet hours (ones a reload added or extended) waits for
 * their end.
 */
export function quietHoursHold(quietHours: QuietHours | undefined, nowMs: number, dueInQuietHours?: number): number | undefined {
  if (!quietHours) return undefined;
  const at = quietHoursAt(nowMs, quietHours);
  if (!at.quiet) return undefined;
  if (dueInQuietHours !== undefined && dueInQuietHours <= nowMs) {
    const due = quietHoursAt(dueInQuietHours, quietHours);
    if (due.quiet && due.endsAt === at.endsAt) return undefined;
  }
  return at.endsAt;
}
