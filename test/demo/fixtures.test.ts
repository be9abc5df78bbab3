import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/config/schema.js';
import { prepareDemoConfig, type DemoConfig } from '../../src/demo/config.js';
import { startFixtureServer, type FixtureServer } from '../../src/demo/fixture-server.js';
import { silentLogger } from '../../src/log.js';
import { createHttpClient, type HttpClient } from '../../src/sources/http.js';
import { pollSource } from '../../src/sources/registry.js';
import { createMemorySourceStateStore } from '../../src/store/memory-source-state.js';

let fixtures: FixtureServer;
let demo: DemoConfig;
let http: HttpClient;
const state = createMemorySourceStateStore();

beforeAll(async () => {
  fixtures = await startFixtureServer(new Date('2025-10-07T09:00:00Z'));
  demo = prepareDemoConfig(
    { baseUrl: fixtures.url, slackWebhookUrl: 'http://127.0.0.1:9/slack', smtpUrl: 'smtp://127.0.0.1:9', webhookUrl: 'http://127.0.0.1:9/hook', webhookSecret: 's3cret-for-tests' },
    {},
  );
  http = createHttpClient(demo.config.settings.http);
});

afterAll(async () => {
  http?.close();
  demo?.cleanup();
  await fixtures?.close();
});

const poll = (source: SourceConfig) => pollSource(source, { http, state, now: new Date('2025-10-07T09:05:00Z'), log: silentLogger() });
const itemsOf = async (source: SourceConfig) => {
  const result = await poll(source);
  return result.status === 'ok' ? result.items : [];
};

describe('the demo sources', () => {
  it('use the default watchlists and route to the three channel ids they name', () => {
    expect(demo.config.watchlists.map((w) => w.id)).toEqual(['rare-earth-magnets', 'critical-minerals', 'semiconductors', 'chipmaking-tools']);
    expect(demo.config.channels.map((c) => c.id)).toEqual(['procurement-slack', 'buyers-email', 'risk-webhook']);
    expect(demo.config.inactiveChannels).toEqual([]);
    expect(demo.config.settings.http.allowPrivateAddresses).toBe(true);
  });

  it('are each read by the real source kind as items (the screening list first records its baseline)', async () => {
    for (const source of demo.config.sources) {
      const items = await itemsOf(source);
      if (source.kind === 'screening') expect(items, source.id).toEqual([]);
      else expect(items.length, source.id).toBeGreaterThan(0);
      for (const item of items) expect(item.title, source.id).toBeTruthy();
    }
  });

  it('answer an unchanged path with 304, and report the Entity List entry once the list gains it', async () => {
    const rss = demo.config.sources.find((s) => s.kind === 'rss')!;
    expect((await poll(rss)).status).toBe('not-modified');
    const screening = demo.config.sources.find((s) => s.kind === 'screening')!;
    fixtures.publish('listed');
    const listed = await itemsOf(screening);
    expect(listed.map((i) => i.title)).toEqual(['Entity List: Qianhai Lumen Semiconductor Co., Ltd. (CN)']);
    expect(listed[0].screening).toMatchObject({ change: 'added', list: 'Entity List (EL) - Bureau of Industry and Security' });
  });

  it('publish the follow-ups in later stages: a third outlet, then the suspension', async () => {
    const news = demo.config.sources.find((s) => s.id === 'news-rare-earths')!;
    const gdelt = demo.config.sources.find((s) => s.id === 'gdelt-minerals')!;
    fixtures.publish('corroborated');
    expect((await itemsOf(news)).map((i) => i.title).join('\n')).toContain('Chipmakers scramble for gallium and germanium');
    fixtures.publish('suspended');
    expect((await itemsOf(gdelt)).map((i) => i.title)).toContain('China suspends gallium and germanium export ban on US for one year');
  });
});
