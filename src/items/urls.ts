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

/** Resolves a possibly relative reference against a base (xml:base, the document URL), without canonicalising. */
export function resolveUrl(link: string | undefined, base: string | undefined): string | undefined {
  if (!link) return base;
  try {
    return base ? new URL(link.trim(), base).toString() : new URL(link.trim()).toString();
  } catch {
    return undefined;
  }
}
