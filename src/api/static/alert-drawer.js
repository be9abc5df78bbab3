/* The alert detail panel: explanation, items, sources, deliveries and history, at #alert=<id>. */
import { $, api, h, labelOf, levelBadge, numberFormat, safeUrl, timeEl } from './ui.js';

// Each opening numbers its request: an answer that comes back after a later opening (or a close) is dropped.
let opening = 0;

export async function openAlert(id) {
  const seq = ++opening;
  const drawer = $('drawer');
  const body = $('drawer-body');
  body.replaceChildren(h('p', { class: 'empty' }, 'Loading…'));
  drawer.classList.add('open');
  drawer.setAttribute('aria-hidden', 'false');
  $('drawer-backdrop').hidden = false;
  try {
    const { alert, sources, deliveries } = await api(`/api/alerts/${encodeURIComponent(id)}`);
    if (seq !== opening) return;
    const article = safeUrl(alert.url);
    body.replaceChildren(
      h('div', { class: 'meta' }, levelBadge(alert.level), h('span', {}, `score ${Math.round(alert.score)}`), h('span', {}, alert.watchlistName), h('span', {}, `version ${alert.version}`), alert.direction !== 'neutral' ? h('span', {}, alert.direction) : null),
      h('h3', { id: 'drawer-title' }, article ? h('a', { href: article, target: '_blank', rel: 'noopener noreferrer' }, alert.title) : alert.title),
      h('div', { class: 'why' }, alert.why),
      h('div', { class: 'meta' }, h('span', {}, 'First seen ', timeEl(alert.firstSeenAt)), h('span', {}, 'updated ', timeEl(alert.updatedAt)), h('span', {}, `${alert.itemCount} item${alert.itemCount === 1 ? '' : 's'}`)),
      alert.entities.length ? h('div', { class: 'chips' }, alert.entities.map((e) => h('span', { class: 'chip' }, e))) : null,
      h('h4', {}, 'Why this level'),
      h('table', { class: 'kv' }, h('tbody', {}, alert.factors.map((f) => h('tr', {}, h('td', {}, h('div', {}, labelOf(f.name)), h('div', { class: 'detail' }, f.detail)), h('td', { class: 'num' }, formatFactor(f)))))),
      h('h4', {}, 'Items'),
      h('ul', { class: 'items' }, alert.items.map((item) => {
        const link = safeUrl(item.url);
        return h('li', {}, link ? h('a', { href: link, target: '_blank', rel: 'noopener noreferrer' }, item.title) : item.title, h('div', { class: 'meta' }, h('span', {}, item.sourceId), h('span', {}, 'published ', item.publishedAt ? timeEl(item.publishedAt) : 'undated'), h('span', {}, 'fetched ', timeEl(item.fetchedAt))));
      })),
      h('h4', {}, 'Sources'),
      h('table', { class: 'kv' }, h('tbody', {}, sources.map((s) => h('tr', {}, h('td', {}, s.name, s.host ? h('div', { class: 'detail' }, s.host) : null), h('td', { class: 'num' }, h('span', { class: `status ${s.status}` }, h('span', { class: 'dot' }), labelOf(s.status))))))),
      h('h4', {}, 'Deliveries'),
      deliveries.length
        ? h('table', { class: 'kv' }, h('tbody', {}, deliveries.map((d) => h('tr', {}, h('td', {}, `${d.channelName} · v${d.version ?? ''}`, d.lastError ? h('div', { class: 'error-text' }, d.lastError) : null), h('td', { class: 'num' }, `${d.status} · ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`, h('div', { class: 'detail' }, timeEl(d.deliveredAt || d.updatedAt)))))))
        : h('p', { class: 'detail' }, 'Not sent to any channel yet (below every route’s level, held for a digest, or quiet hours).'),
      alert.history.length
        ? [h('h4', {}, 'History'), h('ul', { class: 'items' }, alert.history.map((e) => h('li', {}, h('strong', {}, `v${e.version} ${e.reason}`), ` · ${e.level} · ${e.sources} source${e.sources === 1 ? '' : 's'} · `, timeEl(e.at))))]
        : null,
    );
  } catch (err) {
    if (seq !== opening) return;
    body.replaceChildren(h('p', { class: 'empty' }, `Could not load the alert: ${err.message}`));
  }
}

// Factors are points ("signal", "additional-signals", "screening") or multipliers applied to them (the rest).
const POINT_FACTORS = new Set(['signal', 'additional-signals', 'screening', 'excluded']);
function formatFactor(f) {
  return POINT_FACTORS.has(f.name) ? `${f.value >= 0 ? '+' : ''}${numberFormat.format(f.value)}` : `×${Number(f.value).toFixed(2)}`;
}

export function closeDrawer() {
  opening++;
  $('drawer').classList.remove('open');
  $('drawer').setAttribute('aria-hidden', 'true');
  $('drawer-backdrop').hidden = true;
  if (location.hash.startsWith('#alert=')) history.replaceState(null, '', location.pathname + location.search);
}

export function onHash() {
  const match = /^#alert=(.+)$/.exec(location.hash);
  if (!match) return;
  let id = match[1];
  try {
    id = decodeURIComponent(id);
  } catch {
    // A hand-edited link ("#alert=%E0"): ask for it as written; the drawer then says there is no such alert.
  }
  openAlert(id);
}
