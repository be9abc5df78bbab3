import { XMLParser, type X2jOptions } from 'fast-xml-parser';
import { Expression } from 'path-expression-matcher';
import { decodeEntities, foldText, htmlToText } from '../../items/text.js';
import { LAZY_ATTRIBUTES, readAttributes } from './scan.js';
import type { XmlNode, XmlObject } from './types-xml.js';

/**
 * fast-xml-parser set up for untrusted feeds, and fast:
 * - <title> is a "stop node": the parser hands over its raw inner markup untouched, and we decode it ourselves
 *   (CDATA literal, character references, escaped or inline HTML), so markup in a title keeps its order.
 * - processEntities is off and the entity decoder is a no-op: the parser expands nothing, so no entity can amplify,
 *   whatever a DOCTYPE says (and DOCTYPEs never reach it, see prolog.ts). We decode the XML and HTML character
 *   references ourselves, in linear time, only in the fields we read.
 * - jPath off: string paths per tag cost more than the rest of the parse.
 * - Each <item> and <entry> is a stop node too: scan.ts locates its few fields in the raw markup, which is much
 *   cheaper than building the parser's object tree for every entry.
 * The parser compiles its stop-node patterns on every parse, so the list stays short.
 */
const STOP_NODES = ['item', 'entry', 'title'];

/** Never expands anything: the parser's own entity handling is off, and DOCTYPE declarations are ignored. */
const NO_ENTITIES = {
  reset(): void {},
  setXmlVersion(): void {},
  setExternalEntities(): void {},
  addInputEntities(): void {},
  decode(value: string): string {
    return value;
  },
};

export const PARSER_OPTIONS: Partial<X2jOptions> = {
  // Namespace declarations are read from the document's text (namespaces.ts), never from the tree; root elements carry
  // a dozen of them, and each attribute kept costs the parser as much as an element.
  ignoreAttributes: (name: string) => name.startsWith('xmlns'),
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
  entityDecoder: NO_ENTITIES as unknown as X2jOptions['entityDecoder'],
  ignoreDeclaration: true,
  ignorePiTags: true,
  jPath: false,
  // Feeds nest a dozen levels at most; a deep document is an attack on the parser's stack.
  maxNestedTags: 100,
  // Compiled once here: given as strings, fast-xml-parser compiles every pattern again on every parse, which cost more
  // than parsing the small documents most polls fetch.
  stopNodes: STOP_NODES.map((name) => new Expression(`..${name}`)),
};

export const xmlParser = new XMLParser(PARSER_OPTIONS);

/**
 * The shared parser for a document with no <item> or <entry> left in it (most skeletons, see entries.ts): <title> is
 * then its only possible stop node, and each pattern costs on every parse and every tag.
 */
export const skeletonParser = new XMLParser({ ...PARSER_OPTIONS, stopNodes: [new Expression('..title')] });

export type { XmlNode, XmlObject } from './types-xml.js';

export function isObject(node: unknown): node is XmlObject {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

/** All children with one of these names, in the order the names are given. */
export function children(node: unknown, ...names: string[]): XmlNode[] {
  if (!isObject(node)) return [];
  const out: XmlNode[] = [];
  for (const name of names) {
    const value = node[name];
    if (value === undefined) continue;
    // A loop, not push(...value): spreading 150,000 entries as arguments overflows the stack.
    if (Array.isArray(value)) for (const v of value) out.push(v);
    else out.push(value);
  }
  return out;
}

/** The first child with one of these names (the names are tried in order of preference). */
export function child(node: unknown, ...names: string[]): XmlNode | undefined {
  if (!isObject(node)) return undefined;
  for (const name of names) {
    const value = node[name];
    if (value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** An attribute's value, character references decoded. */
export function attr(node: unknown, name: string): string | undefined {
  if (!isObject(node)) return undefined;
  const lazy = node[LAZY_ATTRIBUTES];
  if (typeof lazy === 'string') {
    // Not delete, which would switch an ordinary node to slower dictionary storage just as its attributes are added.
    node[LAZY_ATTRIBUTES] = undefined;
    readAttributes(lazy, node);
  }
  let key = ATTRIBUTE_KEYS.get(name);
  if (key === undefined) ATTRIBUTE_KEYS.set(name, (key = `@_${name}`));
  const value = node[key];
  return typeof value === 'string' ? decodeEntities(value) : undefined;
}

/** "@_href" for "href": the mappers ask for a dozen attribute names, and a key built afresh is slow to look up. */
const ATTRIBUTE_KEYS = new Map<string, string>();

/**
 * The raw inner markup of a stop node. An element parsed as ordinary XML (see parse.ts, lenient retry) yields the
 * text of its descendants instead, escaped again so that it reads as markup-free character data.
 */
export function rawOf(node: unknown, depth = 0): string {
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return depth > 20 ? '' : node.map((n) => rawOf(n, depth + 1)).join(' ');
  if (!isObject(node)) return '';
  const text = node['#text'];
  if (typeof text === 'string') return text;
  if (depth > 20) return '';
  return Object.keys(node)
    .filter((k) => !k.startsWith('@'))
    .map((k) => rawOf(node[k], depth + 1))
    .join(' ');
}

/** Character data of raw markup: CDATA sections literal, references decoded, comments dropped, tags kept as text. */
export function charData(raw: string): string {
  if (!raw.includes('<')) return decodeEntities(raw);
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const open = raw.indexOf('<', i);
    if (open < 0) {
      out += decodeEntities(raw.slice(i));
      break;
    }
    out += decodeEntities(raw.slice(i, open));
    if (raw.startsWith('<![CDATA[', open)) {
      const end = raw.indexOf(']]>', open + 9);
      out += raw.slice(open + 9, end < 0 ? raw.length : end);
      i = end < 0 ? raw.length : end + 3;
    } else if (raw.startsWith('<!--', open)) {
      const end = raw.indexOf('-->', open + 4);
      i = end < 0 ? raw.length : end + 3;
    } else {
      out += '<';
      i = open + 1;
    }
  }
  return out;
}

/**
 * True when raw markup holds child elements (inline XHTML or unescaped HTML): a "<" and a name start character once
 * CDATA sections are taken out. Sections are skipped with indexOf: a description is often one long CDATA section.
 */
function hasElements(raw: string): boolean {
  let lt = raw.indexOf('<');
  while (lt >= 0) {
    if (raw.startsWith('<![CDATA[', lt)) {
      const end = raw.indexOf(']]>', lt + 9);
      if (end < 0) return false;
      lt = raw.indexOf('<', end + 3);
      continue;
    }
    // With the sections taken out, a "<" is followed by whatever follows them.
    let next = lt + 1;
    while (raw.startsWith('<![CDATA[', next)) {
      const end = raw.indexOf(']]>', next + 9);
      next = end < 0 ? raw.length : end + 3;
    }
    const c = raw.charCodeAt(next);
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f) return true;
    lt = raw.indexOf('<', next);
  }
  return false;
}

/** A plain-text leaf (guid, link, date, name): character data with whitespace folded. */
export function leafText(node: unknown): string | undefined {
  const raw = rawOf(node);
  if (!raw) return undefined;
  return foldText(hasElements(raw) ? htmlToText(raw) : charData(raw)) || undefined;
}

export type TextKind = 'text' | 'html' | 'xhtml';

/**
 * A text construct (title, description, summary, content) as plain text. `kind` is how to read its character data:
 * RSS text is HTML by custom; Atom says so in its type attribute (text by default). Inline elements are always
 * markup, whatever the declared kind.
 */
export function richText(node: unknown, kind: TextKind): string | undefined {
  const raw = rawOf(node);
  if (!raw) return undefined;
  if (kind === 'xhtml' || hasElements(raw)) return htmlToText(raw) || undefined;
  const data = charData(raw);
  return (kind === 'html' ? htmlToText(data) : foldText(data)) || undefined;
}
