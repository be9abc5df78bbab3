import { createHash } from 'node:crypto';
import { type Feed, renderFeeds, type Stage, STAGES } from './content.js';
import { startLocalServer, type LocalServer } from './local-server.js';

export interface FixtureServer extends LocalServer {
  stage(): Stage;
  /** Moves the sources to a later stage: their next answers carry what that stage adds. */
  publish(stage: Stage): void;
  /** Requests answered so far. */
  requests(): number;
}

/** The Federal Register sources differ only by agency: route them by it, as the real API filters by it. */
function feedKey(url: URL): string {
  if (url.pathname === '/federalregister/api/v1/documents.json') {
    return `${url.pathname}?agency=${url.searchParams.get('conditions[agencies][]') ?? ''}`;
  }
  return url.pathname;
}

/**
 * Serves the demo content in the shapes of the real sources, with ETags so the worker's conditional GETs get 304
 * until a stage changes what a path returns (as a well-behaved publisher would).
 */
export async function startFixtureServer(now: Date = new Date()): Promise<FixtureServer> {
  let stage: Stage = STAGES[0];
  let feeds = renderFeeds(stage, now);
  let requests = 0;
  const etag = (feed: Feed) => `"${createHash('sha256').update(feed.body).digest('hex').slice(0, 16)}"`;

  const server = await startLocalServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const feed = req.method === 'GET' ? feeds.get(feedKey(url)) : undefined;
    if (!feed) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: this demo server only serves the paths in config/demo/sources.yaml\n');
      return;
    }
    const tag = etag(feed);
    if (req.headers['if-none-match'] === tag) {
      res.writeHead(304, { ETag: tag }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': feed.contentType, ETag: tag, 'Cache-Control': 'no-cache' }).end(feed.body);
  });

  return {
    ...server,
    stage: () => stage,
    publish(next) {
      stage = next;
      feeds = renderFeeds(stage, now);
    },
    requests: () => requests,
  };
}
