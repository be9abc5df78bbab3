import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../src/queue/names.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { getJson, seedAll, type SeededApi, startTestApi, TOKEN } from './seed.js';

let t: SeededApi;
let failedKey: string;
const get = (path: string) => getJson(t.url + path, { token: TOKEN });
const post = (path: string) => getJson(t.url + path, { token: TOKEN, method: 'POST' });

beforeAll(async () => {
  t = await startTestApi({ label: 'api', token: TOKEN });
  ({ failedKey } = await seedAll(t.stores));
});

afterAll(async () => {
  await t?.close();
});

describe('GET /api/alerts', () => {
  it('lists alerts newest activity first, as summaries without items', async () => {
    const { status, body } = await get('/api/alerts');
    expect(status).toBe(200);
    expect(body.alerts.map((a: { id: string }) => a.id).slice(0, 3)).toEqual(['a-sm-ban', 'a-dy-licence', 'a-ga-quota']);
    expect(body.alerts).toHaveLength(10);
    expect(body.alerts[0]).toMatchObject({ level: 'critical', watchlistName: 'Rare-earth magnets', itemCount: 4 });
    expect(body.alerts[0].items).toBeUndefined();
    expect(body.nextCursor).toBeNull();
  });

  it('filters by watchlist, by exact level and by minimum level', async () => {
    const byWatchlist = await get('/api/alerts?watchlist=ai-chips');
    expect(byWatchlist.body.alerts.map((a: { id: string }) => a.id)).toEqual(['a-hbm-rule', 'a-acc-entity']);
    const exact = await get('/api/alerts?level=medium');
    expect(exact.body.alerts.map((a: { level: string }) => a.level)).toEqual(['medium', 'medium', 'medium']);
    const min = await get('/api/alerts?minLevel=high');
    expect(min.body.alerts.map((a: { id: string }) => a.id)).toEqual(['a-sm-ban', 'a-dy-licence', 'a-ga-quota', 'a-hbm-rule']);
  });

  it('filters by time window, in ISO or in milliseconds', async () => {
    const now = Date.now();
    const iso = await get(`/api/alerts?since=${new Date(now - 12 * 3_600_000).toISOString()}`);
    expect(iso.body.alerts.map((a: { id: string }) => a.id)).toEqual(['a-sm-ban', 'a-dy-licence', 'a-ga-quota']);
    const window = await get(`/api/alerts?since=${now - 60 * 3_600_000}&until=${now - 24 * 3_600_000}`);
    expect(window.body.alerts.map((a: { id: string }) => a.id)).toEqual(['a-ge-price', 'a-nd-plant', 'a-acc-entity']);
  });

  it('pages with a cursor, without repeating or skipping an alert', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: { alerts: Array<{ id: string }>; nextCursor: string | null } } = await get(`/api/alerts?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.alerts.map((a) => a.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(10);
    expect(new Set(seen).size).toBe(10);
  });

  it('answers 400 naming the parameter for a bad level, time, limit, cursor or unknown parameter', async () => {
    const cases: Array<[string, RegExp]> = [
      ['level=severe', /level/],
      ['since=yesterday', /since: "yesterday" is not a time/],
      ['limit=0', /limit/],
      ['cursor=bm9wZQ', /cursor/],
      ['watchlists=x', /unknown parameter watchlists/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await get(`/api/alerts?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code).toBe('CP_API_BAD_REQUEST');
      expect(body.error.message, query).toMatch(message);
    }
  });
});

describe('GET /api/alerts/:id', () => {
  it('returns the explanation, items, history, sources with health and deliveries', async () => {
    const { status, body } = await get('/api/alerts/a-sm-ban');
    expect(status).toBe(200);
    expect(body.alert.why).toMatch(/export ban on samarium/);
    expect(body.alert.factors.map((f: { name: string }) => f.name)).toEqual(['signal', 'concentration', 'credibility']);
    expect(body.alert.items).toHaveLength(4);
    expect(body.alert.history.map((e: { reason: string }) => e.reason)).toEqual(['first', 'corroborated']);
    expect(body.sources.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['mofcom', 'ok'],
      ['reuters-commodities', 'failing'],
      ['gdelt-minerals', 'degraded'],
      ['nikkei-asia', 'never-polled'],
    ]);
    expect(body.deliveries).toEqual([expect.objectContaining({ channelId: 'procurement-slack', channelName: '#procurement', status: 'delivered', version: 2 })]);
  });

  it('answers 404 for an unknown or expired alert', async () => {
    const { status, body } = await get('/api/alerts/a-nothing');
    expect(status).toBe(404);
    expect(body.error.message).toMatch(/no alert "a-nothing"/);
  });
});

describe('GET /api/risk', () => {
  it('lists the current index of every watchlist x material, highest first', async () => {
    const { body } = await get('/api/risk');
    expect(body.threshold).toBe(150);
    expect(body.entries).toHaveLength(6);
    const values = body.entries.map((e: { value: number }) => e.value);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    expect(body.entries[0]).toMatchObject({ watchlistId: 'rare-earth-magnets', material: 'samarium', watchlistName: 'Rare-earth magnets' });
  });

  it('gives an hourly series per material of a watchlist, over the days asked for', async () => {
    const { body } = await get('/api/risk/rare-earth-magnets?days=30');
    expect(body.series.map((s: { material: string }) => s.material).sort()).toEqual(['dysprosium', 'neodymium', 'samarium']);
    const samarium = body.series.find((s: { material: string }) => s.material === 'samarium');
    expect(samarium.points.length).toBeGreaterThan(24 * 25);
    expect(Math.max(...samarium.points.map((p: { value: number }) => p.value))).toBeGreaterThan(150);
    const week = await get('/api/risk/rare-earth-magnets/samarium?days=7');
    expect(Date.parse(week.body.points[0].at)).toBeGreaterThanOrEqual(Date.now() - 7 * 86_400_000 - 3_600_000);
  });

  it('answers 404 for a watchlist that neither exists nor has an index', async () => {
    expect((await get('/api/risk/nope')).status).toBe(404);
  });

  it('answers 400, not 500, to a since beyond the range of dates', async () => {
    for (const path of ['/api/risk/rare-earth-magnets', '/api/risk/rare-earth-magnets/samarium']) {
      const { status, body } = await get(`${path}?since=99999999999999999`);
      expect(status, path).toBe(400);
      expect(body.error.code).toBe('CP_API_BAD_REQUEST');
      expect(body.error.message, path).toMatch(/^since: /);
    }
  });
});

describe('GET /api/sources', () => {
  it('lists every configured source with its health and a status', async () => {
    const { body } = await get('/api/sources');
    const byId = Object.fromEntries(body.sources.map((s: { id: string }) => [s.id, s]));
    expect(Object.keys(byId)).toEqual(['mofcom', 'fedreg-bis', 'reuters-commodities', 'gdelt-minerals', 'nikkei-asia']);
    expect(byId['fedreg-bis']).toMatchObject({ status: 'ok', host: 'www.federalregister.example', health: { lastNotModified: true } });
    expect(byId['gdelt-minerals']).toMatchObject({ status: 'degraded', health: { consecutiveFailures: 5, lastErrorCode: 'CP_SOURCE_TIMEOUT' } });
    expect(byId['nikkei-asia']).toMatchObject({ status: 'never-polled', health: null });
    // URLs may carry credentials in their query: only the host is shown.
    expect(JSON.stringify(body)).not.toContain('conditions');
  });
});

describe('failed deliveries', () => {
  it('lists failed deliveries with their alert and channel', async () => {
    const { body } = await get('/api/deliveries/failed');
    expect(body.deliveries).toEqual([
      expect.objectContaining({ key: failedKey, kind: 'alert', channelName: 'Risk dashboard', alertTitle: expect.stringMatching(/^Gallium export quota/), lastError: expect.stringMatching(/410/), attempts: 1 }),
    ]);
  });

  it('retries the failed job in place when BullMQ still keeps it, and clears the failed list', async () => {
    const id = jobId('notify', failedKey);
    const job = await t.queues.notify.add('notify', { alertId: 'a-ga-quota', version: 1, channelId: 'risk-webhook' }, { jobId: id, attempts: 1 });
    // Fail it the way the notify worker does for a permanent error.
    const worker = new Worker('notify', async () => {
      throw new UnrecoverableError('HTTP 410 Gone');
    }, { connection: t.redis.duplicate({ maxRetriesPerRequest: null }), prefix: `{${t.prefix}}` });
    await new Promise<void>((resolve) => worker.on('failed', () => resolve()));
    await worker.close();
    expect(await job.getState()).toBe('failed');

    const { status, body } = await post(`/api/deliveries/${failedKey}/retry`);
    expect(status).toBe(202);
    expect(body).toEqual({ key: failedKey, queue: 'notify', jobId: id, action: 'retried' });
    expect(await (await t.queues.notify.getJob(id))!.getState()).toBe('waiting');
    expect((await get('/api/deliveries/failed')).body.deliveries).toEqual([]);

    const again = await post(`/api/deliveries/${failedKey}/retry`);
    expect(again.status).toBe(409);
  });

  it('adds a new notify job when the failed one is gone', async () => {
    const key = deliveryKey('a-hbm-rule', 1, 'risk-webhook');
    await t.stores.deliveries.recordAttempt(key, { alertId: 'a-hbm-rule', version: 1, channelId: 'risk-webhook' }, { status: 'failed', error: 'HTTP 500', errorKind: 'retryable', at: new Date() });
    const { status, body } = await post(`/api/deliveries/${key}/retry`);
    expect(status).toBe(202);
    expect(body.action).toBe('enqueued');
    const job = await t.queues.notify.getJob(jobId('notify', key));
    expect(job?.data).toEqual({ alertId: 'a-hbm-rule', version: 1, channelId: 'risk-webhook' });
  });

  it('refuses to retry a delivery that did not fail, or that does not exist', async () => {
    const delivered = deliveryKey('a-sm-ban', 2, 'procurement-slack');
    expect((await post(`/api/deliveries/${delivered}/retry`)).status).toBe(409);
    expect((await post('/api/deliveries/a-nothing-v1-x/retry')).status).toBe(404);
  });
});

describe('API description', () => {
  it('describes in /openapi.json exactly the routes the server has', async () => {
    const { body } = await get('/openapi.json');
    expect(body.openapi).toBe('3.1.0');
    const documented = Object.entries(openApiDocument('x').paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase() as 'GET' | 'POST', url: path.replace(/\{(\w+)\}/g, ':$1') })),
    );
    for (const route of documented) expect(t.api.app.hasRoute(route), `${route.method} ${route.url}`).toBe(true);
    expect(documented.filter((r) => r.url.startsWith('/api/'))).toHaveLength(9);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { status, body } = await get('/api/nothing');
    expect(status).toBe(404);
    expect(body.error.code).toBe('CP_API_NOT_FOUND');
  });
});
