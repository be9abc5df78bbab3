import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 with a random port. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>): Promise<LocalServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'))).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export interface RssEntry {
  guid: string;
  title: string;
  link: string;
  description: string;
  pubDate?: string;
}

/** A feed entry every watchlist of minerals alerts on: the CLI tests poll it through `scan`. */
export const GALLIUM_BAN_ENTRY: RssEntry = {
  guid: 'a',
  title: 'China bans exports of gallium and germanium to the United States',
  link: 'https://example.org/gallium-ban',
  description: 'The commerce ministry said the export ban on gallium and germanium takes effect immediately.',
};

/** A small RSS 2.0 document written for our tests. */
export function rssDocument(title: string, entries: RssEntry[]): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>${esc(title)}</title><link>https://example.org/</link><description>test feed</description>
${entries
  .map(
    (e) => `<item><guid>${esc(e.guid)}</guid><title>${esc(e.title)}</title><link>${esc(e.link)}</link><description>${esc(e.description)}</description>${e.pubDate ? `<pubDate>${e.pubDate}</pubDate>` : ''}</item>`,
  )
  .join('\n')}
</channel></rss>`;
}

/** A feed server whose entries the test can change; answers conditional GETs with 304 when unchanged. */
export async function startFeedServer(initial: RssEntry[]) {
  let entries = initial;
  let version = 1;
  let requests = 0;
  const server = await startServer((req, res) => {
    requests++;
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/rss+xml; charset=utf-8', ETag: etag });
    res.end(rssDocument('Test wire', entries));
  });
  return {
    ...server,
    feedUrl: `${server.url}/feed.xml`,
    setEntries(next: RssEntry[]) {
      entries = next;
      version++;
    },
    requests: () => requests,
  };
}

/** A Slack-compatible incoming-webhook sink that records each message. */
export async function startSlackSink() {
  const messages: Array<{ path: string; body: { text?: string; blocks?: unknown[] } }> = [];
  const server = await startServer((req, res, body) => {
    messages.push({ path: req.url ?? '', body: JSON.parse(body) });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
  });
  return { ...server, webhookUrl: `${server.url}/services/T0TEST/B0TEST/secret-token-abcdef`, messages };
}
