/* Chokepoint dashboard. Plain browser JavaScript over the JSON API; no build step. Every value from the API is put
 * into the page as text (feeds are untrusted), and only http(s) URLs become links. */
import { DAY, $, api, ago, dateTime, h, hourFormat, labelOf, numberFormat, safeUrl, timeEl, levelBadge, toast } from './ui.js';
import { drawChart } from './risk-chart.js';
import { closeDrawer, onHash } from './alert-drawer.js';

const REFRESH_MS = 30_000;

const state = {
  status: null,
  alertLevel: '',
  alertWatchlist: '',
  alertCursor: null,
  alertPages: 0,
  riskWatchlist: '',
  riskDays: 30,
  chart: null,
};

// ------------------------------------------------------------------------------------------------ status
async function loadStatus() {
  const status = await api('/api/status');
  state.status = status;
  $('footer-version').textContent = `Chokepoint ${status.version}`;
  const redis = $('redis-pill');
  redis.className = `pill ${status.redis.up ? 'ok' : 'bad'}`;
  redis.lastChild.textContent = status.redis.up ? 'Redis' : 'Redis down';
  const queue = $('queue-pill');
  if (status.queues) {
    const totals = Object.values(status.queues).reduce((t, c) => ({ waiting: t.waiting + (c.waiting || 0), failed: t.failed + (c.failed || 0) }), { waiting: 0, failed: 0 });
    queue.className = `pill ${totals.failed > 0 ? 'warn' : 'ok'}`;
    queue.lastChild.textContent = `${numberFormat.format(totals.waiting)} waiting · ${numberFormat.format(totals.failed)} failed`;
  } else {
    queue.className = 'pill bad';
    queue.lastChild.textContent = 'Queues unreachable';
  }
  fillWatchlistSelects(status.watchlists);
}

function fillWatchlistSelects(watchlists) {
  const alertSelect = $('alert-watchlist');
  if (alertSelect.options.length === 1) {
    for (const w of watchlists) alertSelect.append(h('option', { value: w.id }, w.name));
  }
}

// ------------------------------------------------------------------------------------------------ KPIs
async function loadKpis() {
  const now = Date.now();
  const [day, week] = await Promise.all([
    api(`/api/alerts?since=${now - DAY}&limit=500`),
    api(`/api/alerts?since=${now - 7 * DAY}&minLevel=high&limit=500`),
  ]);
  setKpi('kpi-alerts', day.alerts.length, day.nextCursor ? '+' : '');
  const critical = week.alerts.filter((a) => a.level === 'critical').length;
  setKpi('kpi-high', week.alerts.length, week.nextCursor ? '+' : '', week.alerts.length ? (critical ? 'bad' : 'warn') : 'good');
  $('kpi-high-note').textContent = week.alerts.length ? `${critical} critical` : 'nothing severe';
  const watchlists = new Set(day.alerts.map((a) => a.watchlistId)).size;
  $('kpi-alerts-note').textContent = day.alerts.length ? `across ${watchlists} watchlist${watchlists === 1 ? '' : 's'}` : 'quiet day';
}

function setKpi(id, value, suffix = '', tone = '') {
  const el = $(id);
  el.textContent = numberFormat.format(value) + suffix;
  el.className = `kpi-value ${tone}`;
}

// ------------------------------------------------------------------------------------------------ alerts
// Each load of a view numbers its requests; an answer that comes back after a later load (another filter clicked
// meanwhile, a refresh) is dropped instead of replacing the newer one.
const loads = { alerts: 0, riskChart: 0 };

async function loadAlerts(append = false) {
  const seq = ++loads.alerts;
  const params = new URLSearchParams({ limit: '25' });
  if (state.alertLevel) params.set('minLevel', state.alertLevel);
  if (state.alertWatchlist) params.set('watchlist', state.alertWatchlist);
  if (append && state.alertCursor) params.set('cursor', state.alertCursor);
  // A level filter reads a bounded stretch of history per request: a short page with a cursor is not the end, so
  // read on (a few requests at most) before showing it.
  let page = await api(`/api/alerts?${params}`);
  if (seq !== loads.alerts) return;
  const alerts = [...page.alerts];
  for (let more = 0; alerts.length < 25 && page.nextCursor && more < 4; more++) {
    params.set('cursor', page.nextCursor);
    page = await api(`/api/alerts?${params}`);
    if (seq !== loads.alerts) return;
    alerts.push(...page.alerts);
  }
  const body = $('alert-rows');
  if (!append) body.replaceChildren();
  for (const alert of alerts) body.append(alertRow(alert));
  state.alertCursor = page.nextCursor;
  state.alertPages = append ? state.alertPages + 1 : 1;
  $('alerts-more').hidden = !page.nextCursor;
  $('alerts-empty').hidden = body.children.length > 0 || Boolean(page.nextCursor);
}

function alertRow(alert) {
  const article = safeUrl(alert.url);
  return h(
    'tr',
    { 'data-alert-id': alert.id, 'data-level': alert.level },
    h('td', { class: 'col-level' }, levelBadge(alert.level), alert.direction === 'de-escalation' ? h('div', { class: 'dir' }, '▼ easing') : null),
    h(
      'td',
      { class: 'title-cell' },
      h('a', { class: 'alert-title', href: `#alert=${encodeURIComponent(alert.id)}` }, alert.title),
      article ? h('a', { class: 'ext', href: article, target: '_blank', rel: 'noopener noreferrer', title: 'Open the article' }, '↗') : null,
      h('div', { class: 'alert-why' }, alert.why),
      h('div', { class: 'mobile-meta' }, alert.watchlistName, ' · ', timeEl(alert.updatedAt)),
      alert.entities.length ? h('div', { class: 'chips' }, alert.entities.slice(0, 6).map((e) => h('span', { class: 'chip' }, e))) : null,
    ),
    h('td', { class: 'watchlist-cell col-watchlist' }, alert.watchlistName),
    h('td', { class: 'num col-sources', title: alert.sources.join(', ') }, alert.sources.length),
    h('td', { class: 'num col-score' }, Math.round(alert.score)),
    h('td', { class: 'col-time' }, timeEl(alert.updatedAt)),
  );
}

// ------------------------------------------------------------------------------------------------ risk
async function loadRiskOverview() {
  const overview = await api('/api/risk');
  const list = $('risk-top');
  list.replaceChildren();
  for (const entry of overview.entries.slice(0, 8)) {
    const ratio = entry.value / overview.threshold;
    const tone = entry.active || ratio >= 1 ? 'bad' : ratio >= 0.6 ? 'warn' : '';
    list.append(
      h(
        'li',
        { 'data-material': entry.material },
        h('div', { class: 'meter-top' }, h('span', { class: 'meter-name' }, labelOf(entry.material), h('span', { class: 'meter-watchlist' }, entry.watchlistName)), h('span', { class: 'meter-value' }, `${numberFormat.format(entry.value)} / ${numberFormat.format(overview.threshold)}`)),
        h('div', { class: 'meter-bar' }, meterFill(tone, ratio)),
      ),
    );
  }
  $('risk-top-empty').hidden = overview.entries.length > 0;
  const above = overview.entries.filter((e) => e.active).length;
  $('risk-top-foot').textContent =
    `${above ? `${above} above the threshold. ` : ''}Each story adds its score once; the index halves every ${overview.halfLifeHours} h. Amber from 60% of the threshold.`;

  // Offer the watchlists that have an index first, then the rest of the configured ones.
  const select = $('risk-watchlist');
  const withIndex = [...new Set(overview.entries.map((e) => e.watchlistId))];
  const configured = (state.status ? state.status.watchlists : []).map((w) => w.id);
  const ids = [...withIndex, ...configured.filter((id) => !withIndex.includes(id))];
  const names = new Map((state.status ? state.status.watchlists : []).map((w) => [w.id, w.name]));
  for (const e of overview.entries) if (!names.has(e.watchlistId)) names.set(e.watchlistId, e.watchlistName);
  if (select.options.length !== ids.length) {
    select.replaceChildren(...ids.map((id) => h('option', { value: id }, names.get(id) || id)));
  }
  if (!state.riskWatchlist || !ids.includes(state.riskWatchlist)) state.riskWatchlist = ids[0] || '';
  select.value = state.riskWatchlist;
  return overview;
}

function meterFill(tone, ratio) {
  const fill = h('div', { class: `meter-fill ${tone}` });
  fill.style.width = `${Math.min(100, Math.max(2, ratio * 100)).toFixed(1)}%`; // CSSOM, allowed by the page's CSP
  return fill;
}

async function loadRiskChart() {
  const seq = ++loads.riskChart;
  const box = $('risk-chart-box');
  if (!state.riskWatchlist) {
    box.hidden = true;
    $('risk-empty').hidden = false;
    return;
  }
  const data = await api(`/api/risk/${encodeURIComponent(state.riskWatchlist)}?days=${state.riskDays}`);
  if (seq !== loads.riskChart) return;
  const series = data.series.filter((s) => s.points.length > 0);
  box.hidden = series.length === 0;
  $('risk-empty').hidden = series.length > 0;
  const seriesDays = state.status ? state.status.riskIndex.seriesDays : 30;
  $('risk-foot').textContent =
    state.riskDays > seriesDays ? `Hourly series are kept ${seriesDays} days (settings.riskIndex.seriesDays); older points are gone.` : '';
  box.dataset.series = String(series.length);
  box.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0));
  if (series.length === 0) return;
  state.chart = drawChart(state.chart, $('risk-chart'), series, data.threshold, Date.parse(data.since));
}

// ------------------------------------------------------------------------------------------------ sources
/** A source whose polls are skipped because it, or its host, answered 429 with a Retry-After: until when, and whose. */
function holdNote(health) {
  if (!health.notBefore) return null;
  const until = dateTime.format(new Date(health.notBefore));
  const why = health.holdOrigin ? `${health.holdOrigin} asked us to wait (Retry-After)` : 'it asked us to wait (Retry-After)';
  return h('div', { class: 'hold-note', title: `${why}; nothing is lost: the first poll after fetches everything published meanwhile` }, `polls paused until ${until}: ${why}`);
}
async function loadSources() {
  const { sources } = await api('/api/sources');
  const body = $('source-rows');
  body.replaceChildren(
    ...sources.map((s) => {
      const health = s.health || {};
      return h(
        'tr',
        { 'data-source-id': s.id, 'data-status': s.status },
        h('td', {}, h('span', { class: `status ${s.status}` }, h('span', { class: 'dot' }), labelOf(s.status))),
        h('td', {}, h('div', { class: 'alert-title' }, s.name), s.host ? h('div', { class: 'host' }, s.host) : null, h('div', { class: 'mobile-meta' }, 'last success ', timeEl(health.lastSuccessAt))),
        h('td', { class: 'col-kind' }, s.kind || '–'),
        h('td', { class: 'col-time' }, timeEl(health.lastSuccessAt)),
        h('td', { class: 'num col-items' }, health.lastPollAt ? (health.lastNotModified ? h('span', { title: '304 Not Modified' }, 'unchanged') : health.lastItems) : '–'),
        h('td', { class: 'num' }, health.consecutiveFailures || 0),
        h(
          'td',
          { class: 'col-error' },
          health.lastError && health.consecutiveFailures > 0 ? h('div', { class: 'error-text', title: health.lastError }, health.lastError) : h('span', { class: 'host' }, health.lastError ? `recovered ${ago(health.lastSuccessAt)}` : ''),
          holdNote(health),
        ),
      );
    }),
  );
  $('sources-empty').hidden = sources.length > 0;
  const enabled = sources.filter((s) => s.enabled);
  const ok = enabled.filter((s) => s.status === 'ok').length;
  const degraded = enabled.filter((s) => s.status === 'degraded').length;
  const failing = enabled.filter((s) => s.status === 'failing').length;
  const el = $('kpi-sources');
  el.textContent = `${ok}/${enabled.length}`;
  el.className = `kpi-value ${degraded ? 'bad' : failing ? 'warn' : 'good'}`;
  const held = enabled.filter((s) => s.health && s.health.notBefore).length;
  const notes = [degraded && `${degraded} degraded`, failing && `${failing} failing`, held && `${held} paused (Retry-After)`].filter(Boolean);
  $('kpi-sources-note').textContent = notes.length ? notes.join(', ') : 'all polling normally';
}

// ------------------------------------------------------------------------------------------------ failed deliveries
async function loadFailed() {
  const { deliveries } = await api('/api/deliveries/failed?limit=20');
  const list = $('failed-list');
  list.replaceChildren(
    ...deliveries.map((d) =>
      h(
        'li',
        { 'data-delivery-key': d.key },
        h('div', { class: 'failed-top' }, h('span', { class: 'failed-channel' }, d.channelName, h('span', { class: 'host' }, `  ${d.channelKind || ''}`)), h('button', { type: 'button', class: 'btn small', onclick: (event) => retry(d.key, event.currentTarget) }, 'Retry')),
        h('div', { class: 'failed-what' }, d.kind === 'digest' ? 'Digest' : d.alertTitle || d.alertId, ' · ', `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`, ' · ', timeEl(d.updatedAt)),
        d.lastError ? h('div', { class: 'error-text', title: d.lastError }, d.lastError) : null,
      ),
    ),
  );
  $('failed-empty').hidden = deliveries.length > 0;
  setKpi('kpi-failed', deliveries.length, deliveries.length >= 20 ? '+' : '', deliveries.length ? 'bad' : 'good');
  $('kpi-failed-note').textContent = deliveries.length ? 'retry them below' : 'all sent';
}

async function retry(key, button) {
  // One request per click: a double click would otherwise send a second retry of a delivery already queued.
  if (button) button.disabled = true;
  try {
    const outcome = await api(`/api/deliveries/${encodeURIComponent(key)}/retry`, { method: 'POST' });
    toast(outcome.action === 'retried' ? 'Retrying the delivery' : 'Delivery queued again');
    await loadFailed();
  } catch (err) {
    toast(`Could not retry: ${err.message}`);
    if (button) button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------------ wiring
function segmented(groupId, onPick) {
  $(groupId).addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    for (const b of $(groupId).querySelectorAll('button')) b.classList.toggle('on', b === button);
    onPick(button);
  });
}

async function refresh() {
  const results = await Promise.allSettled([
    loadStatus().then(() => loadRiskOverview()).then(() => loadRiskChart()),
    // Keep the pages someone loaded with "Load more"; the first page alone is refreshed.
    state.alertPages > 1 ? Promise.resolve() : loadAlerts(),
    loadKpis(),
    loadSources(),
    loadFailed(),
  ]);
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) toast(`Some panels could not load: ${failed[0].reason.message}`);
  $('updated-at').textContent = hourFormat.format(new Date());
  document.body.dataset.state = failed.length ? 'error' : 'ready';
}

function start() {
  segmented('level-filter', (b) => {
    state.alertLevel = b.dataset.level;
    loadAlerts().catch((err) => toast(err.message));
  });
  segmented('risk-range', (b) => {
    state.riskDays = Number(b.dataset.days);
    loadRiskChart().catch((err) => toast(err.message));
  });
  $('alert-watchlist').addEventListener('change', (e) => {
    state.alertWatchlist = e.target.value;
    loadAlerts().catch((err) => toast(err.message));
  });
  $('risk-watchlist').addEventListener('change', (e) => {
    state.riskWatchlist = e.target.value;
    loadRiskChart().catch((err) => toast(err.message));
  });
  $('alerts-more').addEventListener('click', () => loadAlerts(true).catch((err) => toast(err.message)));
  $('drawer-close').addEventListener('click', closeDrawer);
  $('drawer-backdrop').addEventListener('click', closeDrawer);
  document.addEventListener('keydown', (e) => e.key === 'Escape' && closeDrawer());
  window.addEventListener('hashchange', onHash);
  refresh().then(onHash);
  setInterval(() => document.visibilityState === 'visible' && refresh(), REFRESH_MS);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
