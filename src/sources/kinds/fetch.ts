import type { SourceConfig } from '../../config/schema.js';
import type { HttpResponse } from '../http.js';
import type { PollContext } from '../registry.js';

export type Fetched =
  | { notModified: true }
  | {
      notModified: false;
      response: Extract<HttpResponse, { notModified: false }>;
      /** Stores the response's validators; call it only after the body parsed, or a broken body would be 304'd forever. */
      commit(): Promise<void>;
    };

/**
 * A conditional GET of the source's URL with the validators stored for that URL (none after its URL changed) and its
 * own timeout, size cap and headers.
 */
export async function fetchSource(source: SourceConfig, ctx: PollContext, accept: string, options: { maxBytesAtMost?: number } = {}): Promise<Fetched> {
  const validators = await ctx.state.getValidators(source.id, source.url);
  const response = await ctx.http.get({
    url: source.url,
    sourceId: source.id,
    accept,
    headers: source.headers,
    validators,
    timeoutMs: source.timeoutMs,
    maxBytes: source.maxBytes,
    maxBytesAtMost: options.maxBytesAtMost,
    signal: ctx.signal,
  });
  if (response.notModified) return { notModified: true };
  return { notModified: false, response, commit: () => ctx.state.saveValidators(source.id, source.url, response.validators) };
}

export const ACCEPT = {
  feed: 'application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5',
  json: 'application/json, text/json;q=0.9, */*;q=0.5',
  html: 'text/html, application/xhtml+xml;q=0.9, */*;q=0.5',
} as const;

/** Runs the commit now unless the caller asked to defer it (PollContext.deferCommit); returns what is left to run. */
export async function commitUnlessDeferred(ctx: PollContext, commit: () => Promise<void>): Promise<() => Promise<void>> {
  if (ctx.deferCommit) return commit;
  await commit();
  return async () => undefined;
}
