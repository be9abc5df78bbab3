import { XMLParser } from 'fast-xml-parser';
import { KEEP_NAMES as KEEP } from './scan.js';
import { PARSER_OPTIONS, xmlParser } from './xml.js';

/**
 * Namespace prefixes are the publisher's choice: `dc:date` may be written `dublincore:date`, and an Atom feed may
 * prefix every element with `atom:`. The mappers read conventional names, so a document that binds a known namespace
 * to another prefix is parsed with its tag names rewritten to the conventional ones. Most feeds use the conventional
 * prefixes and take the shared parser, with no per-tag cost.
 */
const CONVENTIONAL: Record<string, string> = {
  'http://purl.org/dc/elements/1.1/': 'dc',
  'http://purl.org/dc/terms/': 'dcterms',
  'http://purl.org/rss/1.0/modules/content/': 'content',
  'http://search.yahoo.com/mrss/': 'media',
  'http://search.yahoo.com/mrss': 'media',
  'http://www.w3.org/2005/Atom': 'atom',
  'http://purl.org/atom/ns#': 'atom',
  'http://www.w3.org/1999/02/22-rdf-syntax-ns#': 'rdf',
  'http://purl.org/rss/1.0/': 'rss',
  'http://my.netscape.com/rdf/simple/0.9/': 'rss',
  'http://www.w3.org/1999/xhtml': 'xhtml',
  'http://www.itunes.com/dtds/podcast-1.0.dtd': 'itunes',
  'http://backend.userland.com/rss2': 'rss2',
  'http://blogs.law.harvard.edu/tech/rss': 'rss2',
};

/** Namespaces that are the document's own vocabulary: their elements are read without a prefix. */
const OWN: Record<string, string[]> = { atom: ['atom'], rdf: ['rss'], rss: ['rss2'] };

const DECLARATION = /xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']/y;

export interface DocumentReader {
  parser: XMLParser;
  /** The tag-name rewriting the parser applies, for the entry scanner (scan.ts) to apply too. */
  rename: (name: string) => string;
}

const SHARED: DocumentReader = { parser: xmlParser, rename: KEEP };

/**
 * The parser for this document: the shared one, or one that renames non-conventional prefixes (and, for RSS written
 * in odd case, folds names). `lenientFor` names elements not to treat as stop nodes (see parse.ts: a stop node
 * closed by a misspelt tag cannot be read raw).
 */
export function readerFor(text: string, format: 'rss' | 'atom' | 'rdf', lenientFor: string[] = []): DocumentReader {
  const prefixes = new Map<string, string>();
  const own = OWN[format];
  // Podcast feeds repeat the same declaration on every element of every item: a repeat is not looked up again.
  let last = '';
  let lastTarget: string | undefined;
  for (let at = text.indexOf('xmlns:'); at >= 0; ) {
    DECLARATION.lastIndex = at;
    const m = DECLARATION.exec(text);
    if (!m) {
      at = text.indexOf('xmlns:', at + 1);
      continue;
    }
    at = text.indexOf('xmlns:', DECLARATION.lastIndex);
    if (m[0] !== last) {
      last = m[0];
      const conventional = CONVENTIONAL[m[2].trim()];
      lastTarget = conventional === undefined ? undefined : own.includes(conventional) ? '' : conventional;
    }
    if (lastTarget !== undefined && m[1] !== lastTarget) prefixes.set(m[1], lastTarget);
  }
  const foldCase = format === 'rss' && hasOddCase(text);
  if (prefixes.size === 0 && !lenientFor.length && !foldCase) return SHARED;
  const renamePrefix = (name: string): string => {
    const colon = name.indexOf(':');
    if (colon < 0) return name;
    const target = prefixes.get(name.slice(0, colon));
    if (target === undefined) return name;
    return target ? `${target}${name.slice(colon)}` : name.slice(colon + 1);
  };
  const rename = foldCase ? (name: string) => foldName(renamePrefix(name)) : prefixes.size ? renamePrefix : KEEP;
  const stopNodes = PARSER_OPTIONS.stopNodes?.filter((p) => !lenientFor.includes(String(p).replace(/^\.\./, '').replace(/^.*:/, '')));
  const parser = new XMLParser({
    ...PARSER_OPTIONS,
    stopNodes,
    ...(rename === KEEP
      ? {}
      : {
          transformTagName: rename,
          // rdf:about written with another prefix is still the item's id; xml:base and xml:lang are fixed by XML.
          transformAttributeName: (name: string) => (name.startsWith('xml:') ? name : renamePrefix(name)),
        }),
  });
  return { parser, rename };
}

const CORE_RSS = /<\/?(rss|channel|item|title|link|description|guid|pubdate)[\s>/]/gi;
const CAMEL: Record<string, string> = { pubdate: 'pubDate', lastbuilddate: 'lastBuildDate', managingeditor: 'managingEditor', webmaster: 'webMaster' };

/** RSS readers treat element names case-insensitively; a feed writing <TITLE> or <Item> gets its names folded. */
function hasOddCase(text: string): boolean {
  const head = text.slice(0, 65_536);
  // Conventional feeds have no tag starting with a capital letter: skip the slower case-insensitive scan.
  if (!/<\/?[A-Z]/.test(head)) return false;
  CORE_RSS.lastIndex = 0;
  for (let m = CORE_RSS.exec(head); m; m = CORE_RSS.exec(head)) {
    if (m[1] !== m[1].toLowerCase() && m[1] !== 'pubDate') return true;
  }
  return false;
}

function foldName(name: string): string {
  if (name.includes(':')) return name;
  const lower = name.toLowerCase();
  return CAMEL[lower] ?? lower;
}
