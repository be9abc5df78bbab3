import { ChokepointError, FeedParseError } from '../../errors.js';

/**
 * Runs one reading of a fetched document (the feed parser's, or a kind's decode, parse and mapping). A failure nobody
 * foresaw, such as a RangeError from a hostile shape deep inside a library (150,000 nested <span>s in a title), is
 * still the document's fault: it becomes a FeedParseError with `reason`, naming the source, so the source's health
 * says which one failed and why instead of an anonymous UNKNOWN. Typed errors pass through as they are.
 */
export function withUnforeseenAs<T>(reason: string, sourceId: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ChokepointError) throw err;
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new FeedParseError(sourceId, reason, `the document could not be read (${firstLine(message)})`, { cause: err });
  }
}

/** An error message cut to its first line and 200 characters, for a log line. */
export function firstLine(message: string): string {
  return message.split('\n')[0].slice(0, 200);
}
