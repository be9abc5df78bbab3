/**
 * The quiet-hours delivery tests' setting: a worker clock that runs at real speed from wherever a test sets it (its
 * offset from Date.now()), and quiet hours of one minute, 22:00-22:01 UTC, that a test reaches by setting the clock just
 * before them.
 */
export interface ShiftedClock {
  offset: number;
  readonly now: number;
}

export function shiftedClock(): ShiftedClock {
  return {
    offset: 0,
    get now() {
      return Date.now() + this.offset;
    },
  };
}

export const QUIET_START = Date.parse('2025-07-01T22:00:00.000Z');
export const QUIET_END = Date.parse('2025-07-01T22:01:00.000Z');
