/** Exit codes of every `chokepoint` command (documented in the README). */
export const EXIT = {
  OK: 0,
  /** Invalid configuration, invalid input, or the command's check failed (e.g. a parse error, a failed delivery). */
  FAILURE: 1,
  /** Wrong command-line usage (unknown command or option). */
  USAGE: 2,
  /** Redis or another required service is unreachable. */
  UNAVAILABLE: 69,
  /** An unexpected internal error (a bug: please report it). */
  INTERNAL: 70,
} as const;
