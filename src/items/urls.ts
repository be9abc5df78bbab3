/** Canonical URLs: absolute, http(s) only, lower-case host, default port, no fragment, no tracking parameters. */

/**
 * Parameters that identify a campaign, a click or a share, never the article. Dropping them makes the same story
 * shared through a newsletter and through a feed one URL. Parameters that might select content (id, p, page,
 * ref, cid, feature) are kept: a wrong merge is worse than a missed one.
 */
const TRACKING = new Set([
  'fbclid', 'gclid', 'gclsrc', 'dclid', 'gbraid', 'wbraid', 'msclkid', 'yclid', 'twclid', 'ttclid', 'li_fat_id',
  'mc_cid', 'mc_eid', '_ga', '_gl', 'igshid', 'igsh', 'si', 'ref_src', 'ref_url', 'cmpid', 'cmp', 'ncid', 'ocid',
  'smid', 'sr_share', 'xtor', 'spm', 'wt.mc_id', 'wt.mc_ev', 'oly_anon_id', 'oly_enc_id', 'vero_id', 'vero_conv',
  '_hsenc', '_hsmi', 'hsctatracking', 'mkt_tok', 'trk', 'trkcampaign', '__twitter_impression', 'guccounter',
  'guce_referrer', 'guce_referrer_sig', 'rss_source', 'feedtype', 'at_medium', 'at_campaign', 'at_source',
]);
const TRACKING_PREFIX = /^(?:utm_|at_custom|pk_|mtm_|piwik_|hmb_)/;

function isTracking(key: string): boolean {
  const k = key.toLowerCase();
  return TRACKING.has(k) || TRACKING_PREFIX.test(k);
}

/**
 * The canonical form of a link, resolved against `base` when relative; undefined when it is not an http(s) URL.
 * Credentials are removed too: a URL with a password must never reach a log, a job or a notification.
 */
export function canonicalUrl(url: string | undefined | null, base?: string): string | undefined {
  if (url === undefined || url === null) return undefined;
  const text = String(url).trim();
  if (!text || text.length > 8_192) return undefined;
  if (isCanonical(text) && (!base || isValidBase(base))) return text;
  let parsed: URL;
  try {
    parsed = base ? new URL(text, base) : new URL(text);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  if (!parsed.hostname) return undefined;
  // Each URL setter re-serialises the whole URL: only touch what is there.
  // An empty fragment ("/a#") leaves hash empty but a "#" in the URL.
  if (parsed.hash || parsed.href.endsWith('#')) parsed.hash = '';
  if (parsed.username) parsed.username = '';
  if (parsed.password) parsed.password = '';
  if (parsed.search.length > 1) {
    const params = [...parsed.searchParams];
    const kept = params.filter(([key]) => !isTracking(key));
    if (kept.length !== params.length) parsed.search = kept.length ? `?${new URLSearchParams(kept).toString()}` : '';
  }
  // "https://a.example/x?" and "https://a.example/x" are the same page.
  else if (parsed.href.endsWith('?')) parsed.search = '';
  return parsed.href;
}

/**
 * The fragment of an item's link when it names an item on a page of many (`/notices#n3`, `/updates#2025-04-01-gallium`):
 * such a link is that item's address, and without the fragment a page of anchors would give all its items one link,
 * and one id. Page anchors (#top, #content, #comments), tracking (#xtor=RSS-3, #ref=rss) and routes (#!/a, #/a) are
 * not: the same article reached through them stays one link.
 */
export function itemAnchor(url: string | undefined | null): string | undefined {
  if (!url) return undefined;
  const mark = url.indexOf('#');
  if (mark < 0) return undefined;
  const fragment = url.slice(mark + 1);
  if (!ITEM_ANCHOR.test(fragment) || PAGE_ANCHOR.test(fragment)) return undefined;
  return fragment;
}

const ITEM_ANCHOR = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PAGE_ANCHOR =
  /^(top|bottom|main|content|main-?content|maincontent|page|body|article|story|post|entry|text|header|footer|nav|navigation|menu|skip.*|comments?|respond|reply|disqus_thread|more|read-?more|continue|full-?story|share|sharing|social|related|gallery|video|photos?|image|media|print|subscribe|newsletter|rss|feed|utm.*|xtor.*|ref|src|source|at_.*|intcmp.*|origin)$/i;

/**
 * An absolute http(s) URL that the URL parser and the rules above leave exactly as written: lower-case host name (not
 * an IP address, not punycode), no port, credentials or fragment, a path without dot segments, and only characters
 * that are never percent-encoded, in a path and a query with no tracking parameter. Most feed links are such; parsing
 * them cost more than the rest of an item's normalisation.
 */
function isCanonical(text: string): boolean {
  const m = SIMPLE_URL.exec(text);
  if (!m) return false;
  const [, host, path, query] = m;
  if (host.startsWith('xn--') || host.includes('.xn--')) return false;
  const lastLabel = host.charCodeAt(host.lastIndexOf('.') + 1);
  if (lastLabel >= 0x30 && lastLabel <= 0x39) return false;
  if (DOT_SEGMENT.test(path)) return false;
  if (query === undefined) return true;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    // Encoded keys are compared decoded: leave them to the parser.
    if (key.includes('%') || key.includes('+') || isTracking(key)) return false;
  }
  return true;
}

// Path: printable ASCII but " # < > ? \ ` { }; query: printable ASCII but " # < > ' (WHATWG percent-encode sets).
const SIMPLE_URL = /^https?:\/\/((?:[a-z0-9-]+\.)*[a-z0-9-]+)(\/[!$-;=@-[\]-_a-z|~]*)(?:\?([!$-&(-;=?-~]+))?$/;
const DOT_SEGMENT = /\/\.|%2e/i;

// A feed's links share one base: check it once.
let lastBase = '';
let lastBaseValid = false;
function isValidBase(base: string): boolean {
  if (base !== lastBase) {
    lastBaseValid = URL.canParse(base);
    lastBase = base;
  }
  return lastBaseValid;
}

/** Resolves a possibly relative reference against a base (xml:base, the document URL), without canonicalising. */
export function resolveUrl(link: string | undefined, base: string | undefined): string | undefined {
  if (!link) return base;
  try {
    return base ? new URL(link.trim(), base).toString() : new URL(link.trim()).toString();
  } catch {
    return undefined;
  }
}
