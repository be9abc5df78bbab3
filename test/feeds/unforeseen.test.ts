import { describe, expect, it } from 'vitest';
import { FeedParseError } from '../../src/errors.js';
import { parseFeed } from '../../src/sources/feed/parse.js';
import { readDocument } from '../../src/sources/kinds/read.js';

/** A failure nobody foresaw is still the document's fault: a typed error naming the source, with a stable code. */
function thrown(read: () => unknown): FeedParseError {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(FeedParseError);
    return err as FeedParseError;
  }
  throw new Error('expected a FeedParseError');
}

const boom = new RangeError('Maximum call stack size exceeded\nat deep()');

describe('unforeseen failures while reading a document', () => {
  it('reports one inside the feed parser as malformed XML, and one in any other reading as unreadable', () => {
    const options = {
      sourceId: 'odd-feed',
      get contentType(): string {
        throw boom;
      },
    };
    const inParser = thrown(() => parseFeed('<rss><channel/></rss>', options));
    expect(inParser).toMatchObject({ sourceId: 'odd-feed', reason: 'malformed-xml', code: 'CP_PARSE_MALFORMED_XML', cause: boom });
    const elsewhere = thrown(() => readDocument('odd-api', () => { throw boom; }));
    expect(elsewhere).toMatchObject({ sourceId: 'odd-api', reason: 'unreadable', code: 'CP_PARSE_UNREADABLE', cause: boom });
    // One line, naming the failure, for the operator reading the source's health.
    expect(inParser.message).toBe('source "odd-feed": the document could not be read (RangeError: Maximum call stack size exceeded)');
    expect(elsewhere.message).toBe('source "odd-api": the document could not be read (RangeError: Maximum call stack size exceeded)');
  });

  it('lets a typed refusal through unchanged, inside the feed parser or around it', () => {
    const refusal = thrown(() => parseFeed('', { sourceId: 'empty-feed' }));
    expect(refusal.code).toBe('CP_PARSE_EMPTY');
    expect(thrown(() => readDocument('empty-feed', () => parseFeed('', { sourceId: 'empty-feed' })))).toMatchObject({ code: 'CP_PARSE_EMPTY' });
  });
});
