/* Small DOM, fetch and formatting helpers of the dashboard. Values from the API only ever become text nodes. */
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const $ = (id) => document.getElementById(id);

/** Builds an element; strings become text nodes, never HTML. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An absolute http(s) URL to link to, else null: a missing or relative value must not become a link into the dashboard. */
export function safeUrl(url) {
  if (typeof url !== 'string' || url.trim() === '') return null;
  try {
    const parsed = new URL(url); // no base: a relative value throws
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

export async function api(path, options) {
  const response = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' }, ...options });
  if (response.status === 401) {
    location.reload(); // the session ended: the server shows the login page
    throw new Error('unauthorized');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || `${response.status} ${response.statusText}`);
  return body;
}

// ------------------------------------------------------------------------------------------------ formatting
export const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
export const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
export const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function ago(iso) {
  if (!iso) return '–';
  const ms = Date.now() - Date.parse(iso);
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 30 * 86400) return `${Math.round(s / 86400)} d ago`;
  return dayFormat.format(new Date(iso));
}
export const timeEl = (iso) => h('time', { datetime: iso || '', title: iso ? dateTime.format(new Date(iso)) : '' }, ago(iso));
export const levelBadge = (level) => h('span', { class: `level ${level}` }, level);
// Lexicon ids ("ai-accelerators", "hbm") as words people read; acronyms and chemical names keep their case.
const WORDS = { ai: 'AI', hbm: 'HBM', gpus: 'GPUs', ndfeb: 'NdFeB', smco: 'SmCo', euv: 'EUV', duv: 'DUV' };
export function labelOf(id) {
  const text = String(id).split(/[-_]+/).map((w) => WORDS[w] || w).join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 3500);
}
