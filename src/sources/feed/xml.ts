import { XMLParser } from 'fast-xml-parser';

/**
 * fast-xml-parser configured for untrusted feeds: attributes kept (links, guids, xml:base), values kept as strings,
 * entity expansion bounded, nesting bounded. DTDs with entity declarations never reach it (see parse.ts).
 */
const RAW_TEXT_NODES = ['title', 'description', 'summary', 'content', 'content:encoded', 'media:description', 'media:title', 'dc:description', 'xhtml:body', 'body', 'atom:title', 'atom:summary', 'atom:content', 'rss:title', 'rss:description', 'dc:title'];

export const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  cdataPropName: false,
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 200,
  // Text constructs are kept as raw markup: mixed content (xhtml, HTML left unescaped) keeps its order, and
  // htmlToText cleans it in one place.
  stopNodes: RAW_TEXT_NODES.map((name) => `*.${name}`),
} as ConstructorParameters<typeof XMLParser>[0]);

export type XmlNode = string | { [key: string]: XmlValue } | undefined;
export type XmlValue = XmlNode | XmlNode[];

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The first child with this local name, whatever namespace prefix the feed chose (dc:date, DC:date, ...). */
export function child(node: XmlValue, ...names: string[]): XmlValue {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  for (const name of names) {
    if (name in node) return node[name];
  }
  return undefined;
}

/** All children (across arrays) with one of these names. */
export function children(node: XmlValue, ...names: string[]): XmlNode[] {
  const out: XmlNode[] = [];
  if (!node || typeof node !== 'object' || Array.isArray(node)) return out;
  for (const name of names) if (name in node) out.push(...asArray(node[name] as XmlNode | XmlNode[]));
  return out;
}

export function attr(node: XmlValue, name: string): string | undefined {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const value = node[`@_${name}`];
  return typeof value === 'string' ? value : undefined;
}

/** All text inside a node, in document order as far as the parser keeps it (mixed content is approximated). */
export function textOf(node: XmlValue, depth = 0): string {
  if (node === undefined || node === null || depth > 50) return '';
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (Array.isArray(node)) return node.map((n) => textOf(n, depth + 1)).filter(Boolean).join(' ');
  const parts: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('@_')) continue;
    parts.push(textOf(value as XmlValue, depth + 1));
  }
  return parts.filter(Boolean).join(' ');
}

/** Serialises xhtml content back to markup-ish text, so htmlToText can clean it like other HTML. */
export function markupOf(node: XmlValue, depth = 0): string {
  if (node === undefined || node === null || depth > 50) return '';
  if (typeof node !== 'object') return escapeText(String(node));
  if (Array.isArray(node)) return node.map((n) => markupOf(n, depth + 1)).join(' ');
  let out = '';
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('@_')) continue;
    if (key === '#text') out += escapeText(String(value));
    else for (const v of asArray(value as XmlNode)) out += `<${key}>${markupOf(v, depth + 1)}</${key}> `;
  }
  return out;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
