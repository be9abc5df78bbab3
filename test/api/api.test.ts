import net from 'node:net';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobId } from '../../src/queue/names.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { API_TIMEOUTS } from '../../src/api/app.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { retryDelivery } from '../../src/api/retry.js';
import type { Queues } from '../../src/queue/queues.js';
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

    // Two at once (two operators, a double click): one retries it, the other hears it is queued; neither lists it failed.
    const answers = await Promise.all([post(`/api/deliveries/${failedKey}/retry`), post(`/api/deliveries/${failedKey}/retry`)]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    expect(answers.find((a) => a.status === 202)!.body).toEqual({ key: failedKey, queue: 'notify', jobId: id, action: 'retried' });
    expect(answers.find((a) => a.status === 409)!.body.error.message).toMatch(/already queued/);
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

  /** The notify queue, with `add` replaced (a worker faster than the API, a Redis that refuses the write). */
  const notifyWith = (add: (...args: Parameters<Queues['notify']['add']>) => Promise<unknown>): Queues => {
    const notify = new Proxy(t.queues.notify, {
      get: (target, prop) => (prop === 'add' ? add : Reflect.get(target, prop, target)),
    });
    return { ...t.queues, notify, all: () => t.queues.all() };
  };
  const retryWith = (key: string, queues: Queues) =>
    retryDelivery(key, { deliveries: t.stores.deliveries, alerts: t.stores.alerts, queues, channel: (id) => t.config.channels.find((c) => c.id === id) });

  it('keeps a delivery on the failed list when its job fails again before the API has answered', async () => {
    const key = deliveryKey('a-dy-licence', 1, 'risk-webhook');
    const base = { alertId: 'a-dy-licence', version: 1, channelId: 'risk-webhook' };
    await t.stores.deliveries.recordAttempt(key, base, { status: 'failed', error: 'HTTP 410 Gone', errorKind: 'permanent', at: new Date(Date.now() - 60_000) });
    const queues = notifyWith(async (...args) => {
      const job = await t.queues.notify.add(...args);
      // The notify worker picks the job up at once and records a permanent failure again.
      await t.stores.deliveries.recordAttempt(key, base, { status: 'failed', error: 'HTTP 410 Gone, again', errorKind: 'permanent', at: new Date() });
      return job;
    });
    expect((await retryWith(key, queues)).action).toBe('enqueued');
    const failed = await t.stores.deliveries.listFailed();
    expect(failed.find((d) => d.key === key)).toMatchObject({ status: 'failed', lastError: 'HTTP 410 Gone, again' });
    await (await t.queues.notify.getJob(jobId('notify', key)))?.remove();
  });

  it('puts a delivery back on the failed list, as it was, when it cannot be queued again', async () => {
    const key = deliveryKey('a-ge-price', 1, 'risk-webhook');
    const base = { alertId: 'a-ge-price', version: 1, channelId: 'risk-webhook' };
    const before = await t.stores.deliveries.recordAttempt(key, base, { status: 'failed', error: 'HTTP 500', errorKind: 'retryable', at: new Date(Date.now() - 60_000) });
    const queues = notifyWith(async () => {
      throw new Error('READONLY You can\'t write against a read only replica.');
    });
    await expect(retryWith(key, queues)).rejects.toThrow(/READONLY/);
    expect((await t.stores.deliveries.listFailed()).find((d) => d.key === key)).toEqual(before);
    expect(await t.queues.notify.getJob(jobId('notify', key))).toBeUndefined();
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

  it('answers what Fastify itself refuses (body, content type, size, URL encoding) in the documented error shape', async () => {
    const retry = `${t.url}/api/deliveries/${failedKey}/retry`;
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, string, RegExp]> = [
      ['empty JSON body', getJson(retry, { method: 'POST', token: TOKEN, headers: { 'content-type': 'application/json' } }), 400, 'CP_API_BAD_REQUEST', /empty/],
      ['malformed JSON', getJson(retry, { method: 'POST', token: TOKEN, headers: { 'content-type': 'application/json' }, body: '{' }), 400, 'CP_API_BAD_REQUEST', /not valid JSON/],
      ['XML body', getJson(retry, { method: 'POST', token: TOKEN, headers: { 'content-type': 'text/xml' }, body: '<a/>' }), 415, 'CP_API_UNSUPPORTED_MEDIA_TYPE', /"text\/xml"/],
      ['body over the limit', getJson(retry, { method: 'POST', token: TOKEN, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(70_000) }) }), 413, 'CP_API_BODY_TOO_LARGE', /too large/],
      ['form over the limit', getJson(`${t.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `next=${'x'.repeat(9_000)}` }), 413, 'CP_API_BODY_TOO_LARGE', /too large/],
      ['path that does not percent-decode', getJson(`${t.url}/api/alerts/%E0%A4%A`, { token: TOKEN }), 400, 'CP_API_BAD_REQUEST', /%E0%A4%A/],
    ];
    for (const [what, answer, status, code, message] of cases) {
      const { status: got, body } = await answer;
      expect(got, what).toBe(status);
      expect(body, what).toEqual({ error: { code, message: expect.stringMatching(message) } });
    }
    expect(t.logs().join('\n')).not.toMatch(/API request failed/);
  });

  it("documents an email delivery's recipients, and the ones a retry sends to", () => {
    const doc = openApiDocument('x') as any;
    expect(doc.components.schemas.Delivery.properties.recipients).toMatchObject({
      type: 'object',
      additionalProperties: { type: 'string', enum: ['accepted', 'deferred', 'refused'] },
    });
    const queued = doc.paths['/api/deliveries/{key}/retry'].post.responses[202].content['application/json'].schema;
    expect(queued.properties.recipients).toMatchObject({ type: 'array', items: { type: 'string' } });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { status, body } = await get('/api/nothing');
    expect(status).toBe(404);
    expect(body.error.code).toBe('CP_API_NOT_FOUND');
  });
});

describe('client timeouts', () => {
  let slow: SeededApi;
  beforeAll(async () => {
    slow = await startTestApi({ label: 'api-timeouts', token: TOKEN, timeouts: { requestMs: 400, checkIntervalMs: 50 } });
  });
  afterAll(async () => {
    await slow?.close();
  });

  it('bounds a request, an idle socket and a kept-alive one by default', () => {
    const server = t.api.app.server;
    expect(server.requestTimeout).toBe(API_TIMEOUTS.requestMs);
    expect(server.headersTimeout).toBe(API_TIMEOUTS.requestMs);
    expect(server.timeout).toBe(API_TIMEOUTS.idleMs);
    expect(server.keepAliveTimeout).toBe(API_TIMEOUTS.keepAliveMs);
    expect(API_TIMEOUTS.requestMs).toBeLessThanOrEqual(30_000);
  });

  it('cuts a client that sends its headers a line at a time (slow loris) with a 408', async () => {
    const { hostname, port } = new URL(slow.url);
    const started = Date.now();
    const answer = await new Promise<{ text: string; ms: number }>((resolve) => {
      const socket = net.connect(Number(port), hostname, () => socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
      const trickle = setInterval(() => socket.writable && socket.write(`X-Padding-${Date.now()}: x\r\n`), 100);
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(trickle);
        resolve({ text, ms: Date.now() - started });
      });
      setTimeout(() => socket.destroy(), 5_000);
    });
    expect(answer.text).toMatch(/^HTTP\/1\.1 408/);
    expect(answer.ms).toBeLessThan(2_000);
  });
});
