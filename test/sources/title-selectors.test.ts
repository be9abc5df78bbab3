import type http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema, type SourceConfig } from '../../src/config/schema.js';
import { FeedParseError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createHttpClient, type HttpClient } from '../../src/sources/http.js';
import { extractHtml } from '../../src/sources/kinds/html.js';
import { readJsonPage } from '../../src/sources/kinds/json.js';
import { pollSourceWithHealth, type PollContext } from '../../src/sources/registry.js';
import { createMemorySourceStateStore } from '../../src/store/memory-source-state.js';
import type { SourceStateStore } from '../../src/store/source-state.js';
import { httpSettings, startServer, type TestServer } from './helpers.js';

const PAGE = '<ul><li class="release"><h2><a href="/p/1">Gallium export ban</a></h2></li><li class="release"><h2><a href="/p/2">Entity List additions</a></h2></li></ul>';
const API = { data: [{ headline: 'Gallium export ban', link: 'https://x.example/1' }, { headline: 'Entity List additions', link: 'https://x.example/2' }] };

let client: HttpClient;
let state: SourceStateStore;
const servers: TestServer[] = [];
beforeAll(() => {
  client = createHttpClient(httpSettings({ retries: 0 }), { retryBaseDelayMs: 1 });
  state = createMemorySourceStateStore();
});
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
afterAll(() => client.close());

async function serve(handler: http.RequestListener): Promise<TestServer> {
  const server = await startServer(handler);
  servers.push(server);
  return server;
}
const ctx = (): PollContext => ({ http: client, state, now: new Date('2025-04-04T12:00:00Z'), log: silentLogger() });
const source = (raw: Record<string, unknown>): SourceConfig => sourceSchema.parse({ schedule: '*/5 * * * *', ...raw });
const thrown = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as FeedParseError;
  }
  throw new Error('expected a throw');
};

describe('a title selector or path that matches nothing', () => {
  it('fails an html source whose title selector finds no text in any entry, naming the selector, and stores no validators', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html', ETag: '"p1"' }).end(PAGE));
    const press = source({ id: 'press-h3', kind: 'html', url: server.url, selectors: { item: 'li.release', title: 'h3' } });
    for (let i = 0; i < 2; i++) {
      const err = await pollSourceWithHealth(press, ctx()).catch((e: unknown) => e as FeedParseError);
      expect(err).toBeInstanceOf(FeedParseError);
      expect((err as FeedParseError).message).toMatch(/^source "press-h3": title selector "h3" matched no text in any of the 2 entries "li.release" found on /);
    }
    expect(await state.getHealth('press-h3')).toMatchObject({ lastErrorCode: 'CP_PARSE_NO_ITEMS', consecutiveFailures: 2, lastSuccessAt: null });
    // A failed read must not be answered 304 for ever: the second poll asked without the page's ETag.
    expect(server.requests.map((r) => r.headers['if-none-match'])).toEqual([undefined, undefined]);
  });

  it('fails a json source whose title path gives no text in any record, naming the path', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json', ETag: '"a1"' }).end(JSON.stringify(API)));
    const api = source({ id: 'api-title', kind: 'json', url: server.url, mapping: { items: 'data', title: 'title', url: 'link' } });
    const err = await pollSourceWithHealth(api, ctx()).catch((e: unknown) => e as FeedParseError);
    expect(err).toMatchObject({ code: 'CP_PARSE_NO_ITEMS', sourceId: 'api-title' });
    expect((err as FeedParseError).message).toMatch(/title path "title" gave no text in any of the 2 records at "data"/);
    expect(await state.getHealth('api-title')).toMatchObject({ lastErrorCode: 'CP_PARSE_NO_ITEMS', consecutiveFailures: 1 });
    expect(await state.getValidators('api-title', server.url)).toEqual({});
  });

  it('skips the odd entry or record without a title among titled ones', () => {
    const page = `${PAGE}<ul><li class="release"><h2> </h2></li></ul>`;
    expect(extractHtml('press', page, 'https://gov.example/press', { item: 'li.release', title: 'h2' }).items.map((i) => i.title)).toEqual([
      'Gallium export ban',
      'Entity List additions',
    ]);
    const doc = { data: [...API.data, { link: 'https://x.example/3' }] };
    expect(readJsonPage({ id: 'api', mapping: { items: 'data', title: 'headline' } }, doc, 'https://x.example/api').items).toHaveLength(2);
  });

  it('reads an empty JSON list as no items, not as a broken title path', () => {
    expect(readJsonPage({ id: 'api', mapping: { items: 'data', title: 'headline' } }, { data: [] }, 'https://x.example/api').items).toEqual([]);
    expect(thrown(() => readJsonPage({ id: 'api', mapping: { items: 'data', title: 'title' } }, API, 'https://x.example/api')).code).toBe('CP_PARSE_NO_ITEMS');
  });
});
