import type { RssSourceConfig } from '../../config/schema.js';
import { parseFeed } from '../feed/parse.js';
import type { PollContext, PollResult } from '../registry.js';
import { ACCEPT, fetchSource, commitUnlessDeferred } from './fetch.js';

/** Feeds (RSS 0.9x/2.0, RSS 1.0/RDF, Atom): a conditional GET, then the feed parser. A 304 costs no parsing. */
export async function poll(source: RssSourceConfig, ctx: PollContext): Promise<PollResult> {
  const fetched = await fetchSource(source, ctx, ACCEPT.feed);
  if (fetched.notModified) return { status: 'not-modified' };
  const { response } = fetched;
  await ctx.bodyArrived?.();
  const feed = parseFeed(response.body, {
    sourceId: source.id,
    contentType: response.contentType,
    baseUrl: response.url,
    fetchedAt: ctx.now,
  });
  if (feed.truncated) {
    // The parser keeps the newest entries (the first, or the last of a feed that runs oldest first); the operator should know.
    ctx.log.warn({ sourceId: source.id, kept: feed.items.length }, 'feed has more entries than the parser keeps; the oldest were skipped');
  }
  const commit = await commitUnlessDeferred(ctx, fetched.commit);
  return { status: 'ok', items: feed.items, bytes: response.body.length, title: feed.title, commit };
}
