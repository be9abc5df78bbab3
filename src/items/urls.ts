/** Canonical URLs: absolute, http(s) only, lower-case host, default port, fragment and tracking parameters dropped. */

const TRACKING = /^(utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|ref_src|ref_url|cmpid|ncid|ocid|sr_share|at_medium|at_campaign|at_custom\d*|spm|share|wt\.mc_id|oly_anon_id|oly_enc_id|vero_id|hsenc|_hsenc|_hsmi|mkt_tok|trk|trkcampaign|__twitter_impression)$/i;

export function canonicalUrl(url: string | undefined | null, base?: string): string | undefined {
  if (!url) return undefined;
  const text = String(url).trim();
  if (!text) return undefined;
  let parsed: URL;
  try {
    parsed = base ? new URL(text, base) : new URL(text);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  parsed.hash = '';
  parsed.username = '';
  parsed.password = '';
  const kept = [...parsed.searchParams].filter(([key]) => !TRACKING.test(key));
  if (kept.length !== [...parsed.searchParams].length) {
    parsed.search = kept.length ? `?${new URLSearchParams(kept).toString()}` : '';
  }
  return parsed.toString();
}

/** Resolves a possibly relative link against a base (xml:base, document URL); undefined when it cannot. */
export function resolveUrl(link: string | undefined, base: string | undefined): string | undefined {
  return canonicalUrl(link, base);
}
