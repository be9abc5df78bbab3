import { child, children, isObject, leafText, richText, type XmlNode } from './xml.js';

/** Media RSS text on the item, in a media:group, or on a media:content (first found). */
export function media(item: XmlNode, name: string): string | undefined {
  const direct = richText(child(item, name), 'text');
  if (direct) return direct;
  for (const holder of children(item, 'media:group', 'media:content')) {
    const text = richText(child(holder, name), 'text') ?? media(child(holder, 'media:content') ?? '', name);
    if (text) return text;
  }
  return undefined;
}

/** A person's display name: <name> inside Atom-style persons, "email (Name)" in RSS <author>, else the text. */
export function authorOf(node: XmlNode, ...names: string[]): string | undefined {
  for (const person of children(node, ...names)) {
    const text = (isObject(person) ? leafText(child(person, 'name')) : undefined) ?? leafText(person);
    if (!text) continue;
    const inParens = /^\S+@\S+\s*\(([^)]+)\)$/.exec(text);
    return inParens ? inParens[1].trim() : text;
  }
  return undefined;
}
