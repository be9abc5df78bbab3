/**
 * Renders the demo's invented content in the shapes of the real sources: a Google News search feed (RSS 2.0), the
 * Federal Register v1 documents search (JSON), GDELT DOC 2.0 `mode=artlist&format=json`, an agency press-release
 * page (HTML) and the Consolidated Screening List (JSON). Pure functions: content in, response body out.
 */

export interface NewsEntry {
  id: string;
  title: string;
  outlet: string;
  url: string;
  publishedAt: Date;
}

export interface FrDocument {
  documentNumber: string;
  title: string;
  type: 'Rule' | 'Proposed Rule' | 'Notice';
  action: string;
  abstract: string;
  agencies: Array<{ name: string; slug: string }>;
  publicationDate: Date;
  url: string;
}

export interface GdeltArticle {
  title: string;
  url: string;
  domain: string;
  seenAt: Date;
  sourceCountry: string;
}

export interface PressRelease {
  title: string;
  url: string;
  date: Date;
  summary: string;
}

export interface ScreeningFixture {
  id: string;
  name: string;
  altNames: string[];
  /** The list, as the CSL names it, e.g. "Entity List (EL) - Bureau of Industry and Security". */
  source: string;
  programs: string[];
  addresses: Array<{ address: string; city: string; country: string; postalCode?: string }>;
  startDate: string;
  federalRegisterNotice?: string;
  sourceListUrl: string;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Google News search RSS: titles end in " - Outlet", the description is only a link and the outlet's name. */
export function googleNewsRss(query: string, entries: NewsEntry[], builtAt: Date): string {
  const items = entries.map((e) => {
    const description = `<a href="${xml(e.url)}" target="_blank">${xml(e.title)}</a>&nbsp;&nbsp;<font color="#6f6f6f">${xml(e.outlet)}</font>`;
    return [
      '<item>',
      `<title>${xml(`${e.title} - ${e.outlet}`)}</title>`,
      `<link>${xml(e.url)}</link>`,
      `<guid isPermaLink="false">${xml(e.id)}</guid>`,
      `<pubDate>${e.publishedAt.toUTCString()}</pubDate>`,
      `<description>${xml(description)}</description>`,
      `<source url="${xml(new URL(e.url).origin)}">${xml(e.outlet)}</source>`,
      '</item>',
    ].join('');
  });
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><generator>NFE/5.0</generator><title>${xml(`"${query}" - Google News`)}</title><link>https://news.google.com/search?q=${encodeURIComponent(query)}&amp;hl=en-US&amp;gl=US&amp;ceid=US:en</link><language>en-US</language><webMaster>news-webmaster@google.com</webMaster><copyright>Demo content written for Chokepoint; not real news.</copyright><lastBuildDate>${builtAt.toUTCString()}</lastBuildDate><description>Google News</description>
${items.join('\n')}
</channel></rss>
`;
}

/** Federal Register `GET /api/v1/documents.json`: count, description, total_pages and results[]. */
export function federalRegisterJson(description: string, docs: FrDocument[]): string {
  return JSON.stringify(
    {
      count: docs.length,
      description,
      total_pages: 1,
      results: docs.map((d) => ({
        title: d.title,
        type: d.type,
        abstract: d.abstract,
        action: d.action,
        document_number: d.documentNumber,
        html_url: d.url,
        pdf_url: `${d.url.replace(/\/documents\/.*$/, '')}/documents/${d.documentNumber}.pdf`,
        public_inspection_pdf_url: null,
        publication_date: isoDay(d.publicationDate),
        agencies: d.agencies.map((a) => ({ raw_name: a.name.toUpperCase(), name: a.name, id: null, url: `https://www.federalregister.gov/agencies/${a.slug}`, json_url: null, parent_id: null, slug: a.slug })),
        excerpts: null,
      })),
    },
    null,
    1,
  );
}

/** GDELT writes seendate as "20251007T081500Z". */
export function gdeltSeenDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** GDELT DOC 2.0 artlist JSON (`{"articles": [...]}`; an empty answer is `{}`). */
export function gdeltArtlist(articles: GdeltArticle[]): string {
  if (articles.length === 0) return '{}';
  return JSON.stringify({
    articles: articles.map((a) => ({
      url: a.url,
      url_mobile: '',
      title: a.title,
      seendate: gdeltSeenDate(a.seenAt),
      socialimage: '',
      domain: a.domain,
      language: 'English',
      sourcecountry: a.sourceCountry,
    })),
  });
}

const longDate = (d: Date) => d.toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });

/** An agency's press-release list page, the way most US agency sites lay it out: one <article> per release. */
export function pressPage(agency: string, releases: PressRelease[]): string {
  const rows = releases.map(
    (r) => `      <article class="press-release">
        <h3 class="press-release__title"><a href="${xml(r.url)}">${xml(r.title)}</a></h3>
        <time class="press-release__date" datetime="${r.date.toISOString()}">${longDate(r.date)}</time>
        <p class="press-release__summary">${xml(r.summary)}</p>
      </article>`,
  );
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Press Releases | ${xml(agency)}</title></head>
<body>
  <header><nav><a href="/">Home</a> <a href="/press-releases">Press Releases</a></nav></header>
  <main>
    <h1>Press Releases</h1>
    <p class="notice">Demo content written for Chokepoint; not a real agency page.</p>
    <section class="press-release-list">
${rows.join('\n')}
    </section>
  </main>
</body>
</html>
`;
}

/** The Consolidated Screening List JSON download: `{"results": [...]}` with the CSL's field names. */
export function screeningJson(entries: ScreeningFixture[]): string {
  return JSON.stringify({
    results: entries.map((e) => ({
      id: e.id,
      name: e.name,
      alt_names: e.altNames,
      type: 'Entity',
      source: e.source,
      programs: e.programs,
      addresses: e.addresses.map((a) => ({ address: a.address, city: a.city, state: null, postal_code: a.postalCode ?? null, country: a.country })),
      start_date: e.startDate,
      end_date: null,
      federal_register_notice: e.federalRegisterNotice ?? null,
      license_requirement: 'For all items subject to the EAR.',
      license_policy: 'Presumption of denial.',
      remarks: null,
      source_list_url: e.sourceListUrl,
      source_information_url: e.sourceListUrl,
    })),
  });
}
