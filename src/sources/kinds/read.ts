import { ChokepointError, FeedParseError } from '../../errors.js';

/**
 * Runs a kind's reading of a fetched document (decode, parse, map to items). A failure nobody foresaw, such as a
 * RangeError from a hostile shape deep inside a library (150,000 nested <span>s in a title), is still the document's
 * fault: it becomes a FeedParseError naming the source, so the source's health says which one failed and why
 * instead of an anonymous UNKNOWN.
 */
export function readDocument<T>(sourceId: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ChokepointError) throw err;
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new FeedParseError(sourceId, 'unreadable', `the document could not be read (${message.split('\n')[0].slice(0, 200)})`, { cause: err });
  }
}
